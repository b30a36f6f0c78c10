// tools/trace_symbols.cpp: batches a trace's addresses for the shared symbolizer.
#include "trace_symbols.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "common/symbolizer.hpp"

namespace poolkit::trace {

namespace {
std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
}  // namespace

std::string FrameName::text() const {
  if (!function.empty() && !location.empty()) return function + " (" + location + ")";
  if (!function.empty()) return function + " (" + module + ")";
  char offset_text[32];
  std::snprintf(offset_text, sizeof offset_text, "+0x%jx", static_cast<std::uintmax_t>(offset));
  return (module.empty() ? std::string("<unknown module>") : module) + offset_text;
}

void TraceSymbols::resolve(const std::vector<std::uint32_t>& stacks, int depth) {
  std::vector<std::uint64_t> todo;
  for (std::uint32_t id : stacks) {
    auto it = trace_.stacks.find(id);
    if (it == trace_.stacks.end()) continue;
    const int n = std::min<int>(depth, static_cast<int>(it->second.size()));
    for (int i = 0; i < n; ++i) {
      const std::uint64_t a = it->second[static_cast<std::size_t>(i)];
      if (!names_.contains(a) && std::find(todo.begin(), todo.end(), a) == todo.end()) todo.push_back(a);
    }
  }
  // The symbolizer takes a bounded batch; its frames are large, so they live on the heap.
  constexpr std::size_t kBatch = 512;
  auto batch = std::make_unique<detail::SymbolizedFrame[]>(kBatch);
  for (std::size_t first = 0; first < todo.size(); first += kBatch) {
    const std::size_t n = std::min(kBatch, todo.size() - first);
    for (std::size_t i = 0; i < n; ++i) {
      detail::SymbolizedFrame& f = batch[i];
      f = detail::SymbolizedFrame{};
      const std::uint64_t a = todo[first + i];
      f.address = reinterpret_cast<const void*>(a);
      if (const Module* m = trace_.module_of(a - 1)) {
        std::snprintf(f.module, sizeof f.module, "%s", m->path.c_str());
        f.offset = a - 1 - m->bias;  // a return address: the call is the byte before
      }
    }
    detail::symbolize_in_module(batch.get(), static_cast<int>(n));
    for (std::size_t i = 0; i < n; ++i) {
      const detail::SymbolizedFrame& f = batch[i];
      FrameName name{f.function, f.location, base_name(f.module), f.offset};
      if (name.module.empty()) name.offset = todo[first + i];
      // addr2line prints "??" and "??:0" for what it does not know.
      if (name.function == "??") name.function.clear();
      if (name.location.starts_with("??")) name.location.clear();
      names_[todo[first + i]] = std::move(name);
    }
  }
}

std::vector<FrameName> TraceSymbols::frames(std::uint32_t stack, int depth) {
  std::vector<FrameName> out;
  auto it = trace_.stacks.find(stack);
  if (it == trace_.stacks.end()) return out;
  resolve({stack}, depth);
  const int n = std::min<int>(depth, static_cast<int>(it->second.size()));
  for (int i = 0; i < n; ++i) out.push_back(names_[it->second[static_cast<std::size_t>(i)]]);
  return out;
}

std::string TraceSymbols::site(std::uint32_t stack) {
  const std::vector<FrameName> f = frames(stack, 1);
  return f.empty() ? std::string("<unknown call site>") : f.front().text();
}

}  // namespace poolkit::trace
