// tools/commands.hpp: the `poolkit` subcommands as ONE table. Each row holds
// everything about a command: its name, one-line summary, options, description and
// entry function. --help, `poolkit help CMD`, the man page poolkit(1), the bash
// completion and the "did you mean" of a typo are all generated from it, so adding a
// command is one row in commands.cpp (and its tools/<name>_command.cpp).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace poolkit::cli {

/// Exit status of a usage error of poolkit itself (bad option, unknown command).
inline constexpr int kUsageError = 2;

struct CommandOption {
  std::string_view name;      // "--stats"; a short alias goes in `alias`
  std::string_view alias;     // "-s" or ""
  std::string_view argument;  // "PATH" when the option takes a value, else ""
  std::string_view help;      // plain text; lines break at '\n'
};

/// What the shell completes after a command's options (the bash completion).
enum class Operands { kNone, kProgram, kHelpTopic, kFile };

struct Command {
  std::string_view name;
  std::string_view summary;      // one line, lower case, no final period
  std::string_view operands;     // what follows the options in the synopsis: "[--] PROGRAM [ARGS...]"
  Operands completes;            // what those operands are, for the completion
  std::span<const CommandOption> options;  // --help/-h is implied for every command
  std::string_view description;  // plain text paragraphs separated by blank lines
  int (*entry)(int argc, char** argv);  // argv: what follows the command's name
};

/// Every subcommand, in the order help lists them.
std::span<const Command> commands();

/// The row named `name`, or nullptr.
const Command* find_command(std::string_view name);

/// Text about the program as a whole (poolkit(1)'s DESCRIPTION and EXIT STATUS).
struct ProgramText {
  std::string_view description;
  std::string_view exit_status;
  std::string_view files;
};
const ProgramText& program_text();

/// "run [--stats] [--check] [--lib PATH] [--] PROGRAM [ARGS...]"
std::string synopsis(const Command& command);

/// The option names of `command` (both spellings, plus --help and -h), for suggestions.
std::vector<std::string_view> option_names(const Command& command);

/// Finds `arg` (an option word, "--lib=PATH" matched by its name) among the
/// command's options; nullptr when unknown.
const CommandOption* find_option(const Command& command, std::string_view arg);

/// The usage error for an unknown option: one line on stderr naming it, the nearest
/// valid option, and where to read more. Returns kUsageError.
int unknown_option(const Command& command, std::string_view arg);

/// A command line read against its command's option table.
struct ParsedLine {
  struct Given {
    std::string_view name;  // the option's long name, whichever spelling was typed
    std::string value;      // "" for a flag
  };
  std::vector<Given> options;         // in the order given
  std::vector<std::string> operands;  // files; or PROGRAM and its own arguments
  bool has(std::string_view name) const;
  /// The value of the last `name` given, or nullptr.
  const std::string* value(std::string_view name) const;
};

/// How operands and options mix: kFiles lets them interleave (`report FILE -o DIR`);
/// kProgram ends the options at the first operand, which is a program, and keeps
/// everything after it, options included, as its own arguments.
enum class OperandStyle { kFiles, kProgram };

/// Reads argv (what follows the command's name): `--` ends the options; an option
/// that takes a value accepts `--opt VALUE` and `--opt=VALUE`. Returns the exit status
/// when the command should stop here: 0 after printing --help, kUsageError after
/// naming an unknown option or a missing value on stderr; std::nullopt to go on.
std::optional<int> parse_command_line(const Command& command, int argc, char** argv, OperandStyle style,
                                      ParsedLine& out);

/// The one trace FILE that report, replay, advise and heapmap take: names the problem
/// on stderr (none given, or more than one) and returns kUsageError, else std::nullopt.
std::optional<int> take_trace_file(const Command& command, const ParsedLine& line, std::string& file);

/// The value of option `name` as a whole number from `least` to `most`, into `out`
/// (left alone when the option was not given): names a bad value on stderr and
/// returns kUsageError, else std::nullopt.
std::optional<int> number_option(const Command& command, const ParsedLine& line, std::string_view name, long least,
                                 long most, long& out);

}  // namespace poolkit::cli
