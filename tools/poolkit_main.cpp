// tools/poolkit_main.cpp: the `poolkit` command: finds the subcommand in the table
// (commands.hpp) and hands it the rest of the command line.
#include <cstdio>
#include <string_view>

#include "commands.hpp"
#include "help.hpp"
#include "suggest.hpp"

int main(int argc, char** argv) {
  using namespace poolkit::cli;
  if (argc < 2) {
    print_usage(stderr);
    return kUsageError;
  }
  std::string_view name = argv[1];
  // The conventional spellings of the two commands every program has.
  if (name == "--help" || name == "-h") name = "help";
  if (name == "--version" || name == "-V") name = "version";
  if (const Command* command = find_command(name)) return command->entry(argc - 2, argv + 2);

  std::vector<std::string_view> names;
  for (const Command& c : commands()) names.push_back(c.name);
  if (name.starts_with("-")) {
    names = {"--help", "-h", "--version", "-V"};
    std::fprintf(stderr, "poolkit: unknown option '%s'%s; options come after the command: poolkit COMMAND [OPTIONS]; see 'poolkit --help'\n",
                 argv[1], did_you_mean(name, names).c_str());
    return kUsageError;
  }
  std::fprintf(stderr, "poolkit: unknown command '%s'%s; see 'poolkit --help' for the commands\n", argv[1],
               did_you_mean(name, names).c_str());
  return kUsageError;
}
