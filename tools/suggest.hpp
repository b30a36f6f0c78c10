// tools/suggest.hpp: "did you mean": the nearest valid word to a mistyped command,
// option or topic, by edit distance, so that every usage error says what to type.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace poolkit::cli {

/// Levenshtein distance (insert, delete, substitute; each costs 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word`, or "" when none is close enough to be a
/// plausible typo (a distance above max(2, length/3)).
std::string nearest(std::string_view word, const std::vector<std::string_view>& candidates);

/// " (did you mean 'X'?)" when a candidate is near `word`, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace poolkit::cli
