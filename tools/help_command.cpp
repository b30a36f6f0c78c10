// tools/help_command.cpp: `poolkit help [COMMAND | malloc]` and `poolkit version`,
// and the help texts, all printed from the tables so that they match the man pages.
#include <string>

#include "help.hpp"
#include "malloc/option_docs.hpp"
#include "suggest.hpp"

namespace poolkit::cli {

namespace {

constexpr std::string_view kMallocTopic = "malloc";

// Prints `text` with every line indented by `indent` spaces.
void print_indented(std::string_view text, int indent, std::FILE* out) {
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    if (line.empty()) {
      std::fputc('\n', out);
    } else {
      std::fprintf(out, "%*s%.*s\n", indent, "", static_cast<int>(line.size()), line.data());
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

std::string option_label(const CommandOption& o) {
  std::string label;
  if (!o.alias.empty()) label = std::string(o.alias) + ", ";
  label += o.name;
  if (!o.argument.empty()) label += " " + std::string(o.argument);
  return label;
}

void print_option(const CommandOption& o, std::FILE* out) {
  const std::string label = option_label(o);
  const std::string_view help = o.help;
  const std::size_t first_end = help.find('\n');
  // Label and first line of help side by side; the rest of the help under it.
  std::fprintf(out, "  %-14s %.*s\n", label.c_str(), static_cast<int>(help.substr(0, first_end).size()),
               help.data());
  if (first_end != std::string_view::npos) print_indented(help.substr(first_end + 1), 17, out);
}

}  // namespace

std::vector<std::string_view> help_topics() {
  std::vector<std::string_view> topics;
  for (const Command& c : commands()) topics.push_back(c.name);
  topics.push_back(kMallocTopic);
  return topics;
}

void print_usage(std::FILE* out) {
  std::fputs("usage: poolkit COMMAND [OPTIONS] [ARGS...]\n\ncommands:\n", out);
  for (const Command& c : commands()) {
    std::fprintf(out, "  %s\n", synopsis(c).c_str());
    std::fprintf(out, "      %.*s\n", static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::fputs(
      "\n"
      "poolkit --help and --version are help and version.\n"
      "'poolkit help COMMAND' prints a command's options; 'poolkit help malloc' the\n"
      "POOLKIT_* environment variables of the malloc. Manuals: poolkit(1),\n"
      "poolkit-malloc(7), poolkit(3).\n",
      out);
}

void print_command_help(const Command& command, std::FILE* out) {
  std::fprintf(out, "usage: poolkit %s\n\n", synopsis(command).c_str());
  std::fprintf(out, "%.*s\n\n", static_cast<int>(command.summary.size()), command.summary.data());
  std::fputs("options:\n", out);
  for (const CommandOption& o : command.options) print_option(o, out);
  print_option(*find_option(command, "--help"), out);
  std::fputc('\n', out);
  print_indented(command.description, 0, out);
}

void print_malloc_help(std::FILE* out) {
  std::fputs(
      "libpoolkit-malloc reads these environment variables once, at start-up. An unknown\n"
      "POOLKIT_* variable gets a warning on stderr.\n",
      out);
  for (const malloc_impl::OptionDoc& o : malloc_impl::kOptionDocs) {
    std::fprintf(out, "\n  %.*s=%.*s   (default %.*s)\n", static_cast<int>(o.name.size()), o.name.data(),
                 static_cast<int>(o.values.size()), o.values.data(), static_cast<int>(o.default_value.size()),
                 o.default_value.data());
    print_indented(o.effect, 6, out);
    std::fputs("      Accepts: ", out);
    const std::size_t first_end = o.range.find('\n');
    std::fprintf(out, "%.*s\n", static_cast<int>(o.range.substr(0, first_end).size()), o.range.data());
    if (first_end != std::string_view::npos) print_indented(o.range.substr(first_end + 1), 15, out);
  }
}

int help_command(int argc, char** argv) {
  const Command& self = *find_command("help");
  if (argc == 0) {
    print_usage(stdout);
    return 0;
  }
  const std::string_view topic = argv[0];
  if (argc > 1) {
    std::fprintf(stderr, "poolkit help: one topic at a time, got '%s' and '%s'; see 'poolkit help'\n", argv[0],
                 argv[1]);
    return kUsageError;
  }
  if (topic.starts_with("-")) {
    const CommandOption* option = find_option(self, topic);
    if (option == nullptr) return unknown_option(self, topic);
    if (option->name == "--help") {
      print_command_help(self, stdout);
      return 0;
    }
    // --all: everything the manuals hold, in one text.
    print_usage(stdout);
    for (const Command& c : commands()) {
      std::fputs("\n\n", stdout);
      print_command_help(c, stdout);
    }
    std::fputs("\n\n", stdout);
    print_malloc_help(stdout);
    return 0;
  }
  if (topic == kMallocTopic) {
    print_malloc_help(stdout);
    return 0;
  }
  if (const Command* command = find_command(topic)) {
    print_command_help(*command, stdout);
    return 0;
  }
  std::fprintf(stderr, "poolkit help: no command or topic '%s'%s; the topics: ", argv[0],
               did_you_mean(topic, help_topics()).c_str());
  const char* separator = "";
  for (std::string_view t : help_topics()) {
    std::fprintf(stderr, "%s%.*s", separator, static_cast<int>(t.size()), t.data());
    separator = ", ";
  }
  std::fputc('\n', stderr);
  return kUsageError;
}

int version_command(int argc, char** argv) {
  if (argc > 0) {
    const Command& self = *find_command("version");
    const std::string_view arg = argv[0];
    if (find_option(self, arg) != nullptr) {
      print_command_help(self, stdout);
      return 0;
    }
    if (arg.starts_with("-")) return unknown_option(self, arg);
    std::fprintf(stderr, "poolkit version: takes no arguments, got '%s'\n", argv[0]);
    return kUsageError;
  }
  std::printf("poolkit %s\n", POOLKIT_VERSION_STRING);
  return 0;
}

}  // namespace poolkit::cli
