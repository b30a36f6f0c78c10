# tests/programs/gen_cpp.awk: writes one large deterministic C++ program for the g++
# step: `classes` class templates, each used with several types and with std::map,
# std::string, std::vector and lambdas, so the compiler builds and frees plenty of
# trees; main() prints a checksum of everything they compute.
# usage: awk -v classes=300 -f gen_cpp.awk > big.cpp
BEGIN {
  print "#include <algorithm>\n#include <cstdint>\n#include <cstdio>\n#include <map>\n#include <numeric>"
  print "#include <string>\n#include <unordered_map>\n#include <vector>\n"
  for (c = 0; c < classes; c++) {
    printf "template <typename T>\nstruct Widget%d {\n  std::vector<T> items;\n  std::map<std::string, T> named;\n", c
    printf "  void fill(int n) {\n    for (int i = 0; i < n; ++i) {\n      items.push_back(static_cast<T>(i * %d %% 97));\n", c + 3
    printf "      named[\"k\" + std::to_string(i %% %d)] += static_cast<T>(i);\n    }\n  }\n", c % 13 + 5
    printf "  std::uint64_t score() const {\n    std::vector<T> sorted = items;\n    std::sort(sorted.begin(), sorted.end());\n"
    printf "    std::uint64_t s = std::accumulate(sorted.begin(), sorted.end(), std::uint64_t{%d},\n", c
    printf "        [](std::uint64_t a, T b) { return a * 31 + static_cast<std::uint64_t>(b); });\n"
    printf "    for (const auto& [k, v] : named) s ^= std::hash<std::string>{}(k) + static_cast<std::uint64_t>(v);\n"
    printf "    return s;\n  }\n};\n\n"
    printf "std::uint64_t run%d() {\n  std::uint64_t s = 0;\n", c
    printf "  { Widget%d<int> w; w.fill(%d); s += w.score(); }\n", c, 50 + c % 17
    printf "  { Widget%d<long> w; w.fill(%d); s += w.score(); }\n", c, 40 + c % 11
    printf "  { Widget%d<unsigned short> w; w.fill(%d); s += w.score(); }\n", c, 30 + c % 7
    printf "  std::unordered_map<int, std::string> m;\n  for (int i = 0; i < %d; ++i) m[i %% 13] += std::to_string(i);\n", 20 + c % 9
    printf "  for (const auto& kv : m) s += kv.second.size() * static_cast<std::uint64_t>(kv.first);\n  return s;\n}\n\n"
  }
  print "int main() {\n  std::uint64_t total = 0;"
  for (c = 0; c < classes; c++) printf "  total = total * 3 + run%d();\n", c
  print "  std::printf(\"%016llx\\n\", static_cast<unsigned long long>(total));\n}"
}
