// common/symbolizer.cpp: addresses to "function file:line" without malloc (see
// symbolizer.hpp for why addr2line in a vfork'ed child).
#include "common/symbolizer.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

namespace poolkit::detail {
namespace {

void copy_text(char* to, std::size_t size, const char* from) noexcept {
  if (size == 0) return;
  std::size_t n = from ? std::strlen(from) : 0;
  if (n >= size) n = size - 1;
  if (n) std::memcpy(to, from, n);
  to[n] = '\0';
}

void write_all(int fd, const char* s, std::size_t n) noexcept {
  while (n > 0) {
    ssize_t w = ::write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

// ---- address -> module -------------------------------------------------------
struct LocateQuery {
  std::uintptr_t address;
  const char* name;     // dlpi_name of the module found
  std::uintptr_t bias;  // dlpi_addr: file address = address - bias
  bool main_program;
  bool found;
};

int locate_in(dl_phdr_info* info, std::size_t, void* data) noexcept {
  auto* q = static_cast<LocateQuery*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (q->address >= start && q->address < start + ph.p_memsz) {
      q->name = info->dlpi_name;
      q->bias = info->dlpi_addr;
      // The main program is listed first with an empty name.
      q->main_program = info->dlpi_name == nullptr || info->dlpi_name[0] == '\0';
      q->found = true;
      return 1;
    }
  }
  return 0;
}

// ---- running addr2line ----------------------------------------------------------
const char* addr2line_path() noexcept {
  static const char* const kCandidates[] = {"/usr/bin/addr2line", "/bin/addr2line",
                                            "/usr/local/bin/addr2line"};
  for (const char* path : kCandidates)
    if (::access(path, X_OK) == 0) return path;
  return nullptr;
}

// Reads one line from [*cursor, end) into `line` (without the newline).
bool next_line(const char** cursor, const char* end, char* line, std::size_t size) noexcept {
  if (*cursor >= end) return false;
  const char* nl = static_cast<const char*>(std::memchr(*cursor, '\n', static_cast<std::size_t>(end - *cursor)));
  const char* stop = nl ? nl : end;
  std::size_t n = static_cast<std::size_t>(stop - *cursor);
  if (n >= size) n = size - 1;
  std::memcpy(line, *cursor, n);
  line[n] = '\0';
  *cursor = nl ? nl + 1 : end;
  return true;
}

constexpr int kBatch = 64;           // addresses per addr2line run
char g_output[kBatch * 1024];        // its answer: two lines per address
std::atomic_flag g_busy = ATOMIC_FLAG_INIT;  // the buffers above are shared

// `-f -C`: two lines per address, the function (demangled) then file:line, "??" unknown.
void run_addr2line(const char* module, SymbolizedFrame* const* frames, int count) noexcept {
  const char* tool = addr2line_path();
  if (!tool || count <= 0) return;
  char numbers[kBatch][24];
  const char* argv[kBatch + 6];
  int argc = 0;
  argv[argc++] = "addr2line";
  argv[argc++] = "-f";
  argv[argc++] = "-C";
  argv[argc++] = "-e";
  argv[argc++] = module;
  for (int i = 0; i < count; ++i) {
    std::snprintf(numbers[i], sizeof numbers[i], "0x%lx", static_cast<unsigned long>(frames[i]->offset));
    argv[argc++] = numbers[i];
  }
  argv[argc] = nullptr;
  static const char* const kEnvironment[] = {"LC_ALL=C", nullptr};  // and no LD_PRELOAD

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  pid_t child = ::vfork();
  if (child == 0) {
    ::dup2(fds[1], 1);
    int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, 2);
    ::execve(tool, const_cast<char* const*>(argv), const_cast<char* const*>(kEnvironment));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::size_t used = 0;
  if (child > 0) {
    for (;;) {
      ssize_t r = ::read(fds[0], g_output + used, sizeof g_output - used);
      if (r > 0) used += static_cast<std::size_t>(r);
      else if (r == 0 || errno != EINTR) break;
      if (used == sizeof g_output) break;
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  ::close(fds[0]);

  const char* cursor = g_output;
  const char* end = g_output + used;
  char line[512];
  for (int i = 0; i < count; ++i) {
    if (!next_line(&cursor, end, line, sizeof line)) break;
    if (std::strcmp(line, "??") != 0) copy_text(frames[i]->function, sizeof frames[i]->function, line);
    if (!next_line(&cursor, end, line, sizeof line)) break;
    // "??:0", "??:?" and "file:?" say nothing useful; " (discriminator 2)" is noise.
    char* discriminator = std::strstr(line, " (discriminator");
    if (discriminator) *discriminator = '\0';
    if (std::strncmp(line, "??", 2) != 0) {
      std::size_t n = std::strlen(line);
      bool unknown_line = n >= 2 && line[n - 1] == '?' && line[n - 2] == ':';
      if (!unknown_line) {
        // Keep the last two path components: enough to find the file, short to read.
        const char* start = line;
        for (const char* p = line; *p; ++p)
          if (*p == '/' && std::strchr(p + 1, '/') == nullptr) {
            const char* prev = p;
            while (prev > line && *(prev - 1) != '/') --prev;
            start = prev;
            break;
          }
        copy_text(frames[i]->location, sizeof frames[i]->location, start);
      }
    }
  }
}

}  // namespace

bool locate_address(const void* address, char* module, std::size_t module_size,
                    std::uintptr_t* file_address) noexcept {
  LocateQuery q{reinterpret_cast<std::uintptr_t>(address), nullptr, 0, false, false};
  ::dl_iterate_phdr(locate_in, &q);
  if (!q.found) return false;
  if (q.main_program) {
    ssize_t n = ::readlink("/proc/self/exe", module, module_size - 1);
    module[n > 0 ? n : 0] = '\0';
  } else {
    copy_text(module, module_size, q.name);
  }
  *file_address = q.address - q.bias;
  return true;
}

void symbolize_in_module(SymbolizedFrame* out, int count) noexcept {
  while (g_busy.test_and_set(std::memory_order_acquire)) {
  }
  // One addr2line run per module and batch: gather the frames of the first module not
  // done yet, run, repeat.
  bool done[kBatch * 8] = {};
  if (count > kBatch * 8) count = kBatch * 8;
  for (int first = 0; first < count; ++first) {
    if (done[first]) continue;
    SymbolizedFrame* batch[kBatch];
    int n = 0;
    for (int i = first; i < count && n < kBatch; ++i) {
      if (done[i] || std::strcmp(out[i].module, out[first].module) != 0) continue;
      done[i] = true;
      batch[n++] = &out[i];
    }
    if (out[first].module[0] != '\0') run_addr2line(out[first].module, batch, n);
  }
  g_busy.clear(std::memory_order_release);
}

void symbolize(const void* const* addresses, int count, SymbolizedFrame* out) noexcept {
  for (int i = 0; i < count; ++i) {
    SymbolizedFrame& f = out[i];
    f = SymbolizedFrame{};
    f.address = addresses[i];
    // A return address points after the call; the call itself is one byte before.
    const void* call = static_cast<const char*>(addresses[i]) - 1;
    if (!locate_address(call, f.module, sizeof f.module, &f.offset)) f.module[0] = '\0';
  }
  symbolize_in_module(out, count);
  // Where addr2line knew no name (no symbol table entry), dladdr may know an exported one.
  for (int i = 0; i < count; ++i) {
    if (out[i].function[0] != '\0') continue;
    Dl_info info;
    const void* call = static_cast<const char*>(addresses[i]) - 1;
    if (::dladdr(call, &info) != 0 && info.dli_sname)
      copy_text(out[i].function, sizeof out[i].function, info.dli_sname);
  }
}

void print_call_stack(int fd, const void* const* frames, int count, const char* indent) noexcept {
  static SymbolizedFrame symbols[128];
  static std::atomic_flag printing = ATOMIC_FLAG_INIT;
  while (printing.test_and_set(std::memory_order_acquire)) {
  }
  if (count > 128) count = 128;
  symbolize(frames, count, symbols);
  char line[1024];
  for (int i = 0; i < count; ++i) {
    const SymbolizedFrame& f = symbols[i];
    const char* base = std::strrchr(f.module, '/');
    base = base ? base + 1 : f.module;
    int n;
    if (f.function[0] != '\0' && f.location[0] != '\0')
      n = std::snprintf(line, sizeof line, "%s#%d %p in %s %s\n", indent, i, f.address, f.function, f.location);
    else if (f.function[0] != '\0')
      n = std::snprintf(line, sizeof line, "%s#%d %p in %s (%s+0x%lx)\n", indent, i, f.address, f.function, base,
                        static_cast<unsigned long>(f.offset));
    else
      n = std::snprintf(line, sizeof line, "%s#%d %p (%s+0x%lx)\n", indent, i, f.address,
                        base[0] ? base : "<unknown module>", static_cast<unsigned long>(f.offset));
    if (n > 0) write_all(fd, line, static_cast<std::size_t>(n) < sizeof line ? static_cast<std::size_t>(n) : sizeof line - 1);
    if (std::strcmp(f.function, "main") == 0) break;
  }
  printing.clear(std::memory_order_release);
}

}  // namespace poolkit::detail
