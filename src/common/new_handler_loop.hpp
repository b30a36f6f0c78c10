#pragma once
// The new_handler loop of [new.delete.single], shared by the drop-in malloc's
// operator new and the tracer's: call `allocate` until memory comes; between tries
// call the installed new_handler; with none installed, throw std::bad_alloc.
//
// The C++ runtime is a parameter: the malloc is built without exceptions and links
// no libstdc++, so it passes the program's own runtime (found with dlsym); the
// tracer passes std::get_new_handler and a plain throw.
namespace poolkit::detail {

template <class Allocate, class GetHandler, class ThrowBadAlloc>
void* new_handler_loop(Allocate allocate, GetHandler get_handler, ThrowBadAlloc throw_bad_alloc) {
  for (;;) {
    if (void* p = allocate(); p != nullptr) return p;
    auto handler = get_handler();
    if (handler == nullptr) throw_bad_alloc();  // does not return
    handler();
  }
}

}  // namespace poolkit::detail
