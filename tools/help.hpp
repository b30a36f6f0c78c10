// tools/help.hpp: the help texts of `poolkit`, printed from the command table
// (commands.hpp) and the malloc's option table (src/malloc/options.hpp).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"

namespace poolkit::cli {

/// `poolkit --help`: the usage, every command's synopsis and summary.
void print_usage(std::FILE* out);

/// `poolkit help CMD`: the command's synopsis, options and description.
void print_command_help(const Command& command, std::FILE* out);

/// `poolkit help malloc`: every POOLKIT_* variable, its values, default, range, effect.
void print_malloc_help(std::FILE* out);

/// One row of the malloc's option table (src/malloc/options.hpp), as people read it.
struct OptionText {
  std::string name;  // the whole variable name, POOLKIT_<name>
  std::string_view values, default_value, range, effect;
};
/// Every option of the malloc, in the table's order.
std::vector<OptionText> malloc_option_texts();

/// The words `poolkit help` accepts: every command and "malloc".
std::vector<std::string_view> help_topics();

}  // namespace poolkit::cli
