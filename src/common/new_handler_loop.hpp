#pragma once
// The new_handler loop of [new.delete.single], shared by the drop-in malloc's
// operator new and the tracer's: call `allocate` until memory comes; between tries
// call the installed new_handler; with none installed, throw std::bad_alloc (or
// return nullptr for the nothrow forms, which also turn a throwing handler into
// nullptr).
#include <new>

namespace poolkit::detail {

template <class Allocate>
void* new_handler_loop(Allocate allocate, bool nothrow) {
  for (;;) {
    if (void* p = allocate(); p != nullptr) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) {
      if (nothrow) return nullptr;
      throw std::bad_alloc();
    }
    if (!nothrow) {
      handler();
      continue;
    }
    try {
      handler();
    } catch (...) {
      return nullptr;
    }
  }
}

}  // namespace poolkit::detail
