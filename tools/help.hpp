// tools/help.hpp: the help texts of `poolkit`, printed from the command table
// (commands.hpp) and the malloc's option table (src/malloc/option_docs.hpp).
#pragma once

#include <cstdio>
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

/// The words `poolkit help` accepts: every command and "malloc".
std::vector<std::string_view> help_topics();

}  // namespace poolkit::cli
