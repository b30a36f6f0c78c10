# Checked mode against one heap bug per test: checked_bug_program commits the bug on a
# block of each size band (8 B, 4 KiB, 256 KiB on pages; 4 MiB, a huge block) under
# LD_PRELOAD=libpoolkit-malloc.so POOLKIT_CHECK=1, and the report must name the bug, the
# offset, the block, and the stacks down to checked_bug_program.cpp:LINE.
# Included from tests/malloc/CMakeLists.txt when the shared library is built.
add_executable(checked_bug_program checked_bug_program.cpp)
target_link_libraries(checked_bug_program PRIVATE ${CMAKE_DL_LIBS})
target_compile_options(checked_bug_program PRIVATE -g ${_deliberate_misuse}
  $<$<CXX_COMPILER_ID:GNU>:-Wno-array-bounds -Wno-mismatched-new-delete>
  $<$<CXX_COMPILER_ID:Clang>:-Wno-mismatched-new-delete>)
poolkit_warnings(checked_bug_program)

set(_bands small:8 page:4096 large:262144 huge:4194304)
set(_hex "0x[0-9a-f]+")
set(_ours "checked_bug_program.cpp:[0-9]+")
# The allocation stack: allocate_block, called from main.
set(_alloc_stack "  allocated by malloc\\(@N@\\) in thread [0-9]+:\n    #0 ${_hex} in [^\n]*allocate_block[^\n]*${_ours}\n    #1 ${_hex} in [^\n]*${_ours}(\n    #[0-9]+ [^\n]*)*")
set(_freed_stack "  freed by:\n    #0 ${_hex} in [^\n]*${_ours}")
set(_detected "  detected in @WHERE@ by thread [0-9]+:\n(    #[0-9]+ [^\n]*\n)*    #[0-9]+ ${_hex} in [^\n]*${_ours}")
set(_fault "a memory access \\(SIGSEGV\\)")

# checked_case(NAME BUG SIZE REGEX [ENV VAR=VALUE...]): one test; @N@ in REGEX is SIZE.
function(checked_case name bug size regex)
  string(REPLACE "@N@" "${size}" regex "${regex}")
  add_test(NAME checked/${name}
    COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=$<TARGET_FILE:poolkit-malloc> POOLKIT_CHECK=1 ${ARGN}
            $<TARGET_FILE:checked_bug_program> ${bug} ${size})
  # PASS_REGULAR_EXPRESSION alone ignores the exit status: the report is what is checked.
  set_tests_properties(checked/${name} PROPERTIES PASS_REGULAR_EXPRESSION "${regex}" TIMEOUT 120)
endfunction()

function(detected where out)
  string(REPLACE "@WHERE@" "${where}" d "${_detected}")
  set(${out} "${d}" PARENT_SCOPE)
endfunction()

detected("free\\(\\)" _at_free)
detected("${_fault}" _at_fault)
detected("realloc\\(\\)" _at_realloc)
detected("poolkit_malloc_check\\(\\)" _at_check)
detected("operator delete" _at_delete)
set(_block "  block ${_hex}: @N@ bytes from malloc, live\n")

foreach(_band ${_bands})
  string(REPLACE ":" ";" _pair ${_band})
  list(GET _pair 0 b)
  list(GET _pair 1 n)
  math(EXPR n_plus_2 "${n} + 2")
  math(EXPR half "${n} / 2")
  math(EXPR leak3 "${n} * 3")
  if(b STREQUAL "huge")
    # The block's end meets a PROT_NONE page: the first byte past it faults at once.
    set(_over "heap-buffer-overflow at ${_hex}\n  write at offset @N@ of a @N@-byte block \\(byte 1 past the end\\): hit the guard page\n${_block}${_at_fault}\n(.*\n)*${_alloc_stack}")
    checked_case(overflow/${b} overflow ${n} "${_over}")
    checked_case(overflow_memcpy/${b} overflow-memcpy ${n} "heap-buffer-overflow at ${_hex}\n  write at offset @N@ of a @N@-byte block \\(byte 1 past the end\\): hit the guard page\n${_block}  detected in ${_fault}(.*\n)*${_alloc_stack}")
    checked_case(overflow_realloc/${b} overflow-realloc ${n} "heap-buffer-overflow at ${_hex}\n  write at offset ${n_plus_2} of a @N@-byte block \\(byte 3 past the end\\): hit the guard page")
    checked_case(overflow_check/${b} overflow-check ${n} "${_over}")
    checked_case(underflow/${b} underflow ${n} "heap-buffer-underflow at ${_hex}\n  write at offset -1 of a @N@-byte block \\(before its start\\): hit the guard page\n${_block}${_at_fault}(.*\n)*${_alloc_stack}")
    checked_case(write_after_free/${b} write-after-free ${n} "heap-use-after-free at ${_hex}\n  write at offset 3 of a freed @N@-byte block\n  block ${_hex}: @N@ bytes from malloc, freed\n${_at_fault}\n(.*\n)*${_alloc_stack}\n${_freed_stack}")
    checked_case(read_after_free/${b} read-after-free ${n} "heap-use-after-free at ${_hex}\n  read at offset ${half} of a freed @N@-byte block(.*\n)*${_alloc_stack}\n${_freed_stack}")
  else()
    checked_case(overflow/${b} overflow ${n} "heap-buffer-overflow at ${_hex}\n  1 byte\\(s\\) after the end of a @N@-byte block were overwritten; the first at offset @N@ \\(byte 1 past the end\\)\n${_block}${_at_free}\n${_alloc_stack}")
    # Never freed: found by the check of every live block at exit.
    checked_case(overflow_memcpy/${b} overflow-memcpy ${n} "heap-buffer-overflow at ${_hex}\n  1 byte\\(s\\) after the end of a @N@-byte block were overwritten; the first at offset @N@ \\(byte 1 past the end\\)\n${_block}  detected in the check of every live block at exit\n${_alloc_stack}")
    checked_case(overflow_realloc/${b} overflow-realloc ${n} "heap-buffer-overflow at ${_hex}\n  1 byte\\(s\\) after the end of a @N@-byte block were overwritten; the first at offset ${n_plus_2} \\(byte 3 past the end\\)\n${_block}${_at_realloc}\n${_alloc_stack}")
    checked_case(overflow_check/${b} overflow-check ${n} "heap-buffer-overflow at ${_hex}\n  1 byte\\(s\\) after the end of a @N@-byte block were overwritten; the first at offset @N@ \\(byte 1 past the end\\)\n${_block}${_at_check}\n${_alloc_stack}")
    checked_case(underflow/${b} underflow ${n} "heap-buffer-underflow at ${_hex}\n  1 byte\\(s\\) before the start of a block were overwritten; the nearest at offset -1\n${_block}${_at_free}\n${_alloc_stack}")
    # Past the 8-byte front zone, into the header: its seal no longer matches.
    checked_case(underflow_header/${b} underflow-32 ${n} "heap-buffer-underflow at ${_hex}\n  a write landed in the block's header, 9 to 64 bytes before the block \\(the 8 just before it are intact\\)\n${_at_free}")
    # Still in quarantine at exit, and pushed out of a 300 KiB quarantine by later frees.
    checked_case(write_after_free/${b} write-after-free ${n} "heap-use-after-free at ${_hex}\n  1 byte\\(s\\) of a freed @N@-byte block were written after the free; the first at offset 3\n  block ${_hex}: @N@ bytes from malloc, freed\n  detected in the check of every live block at exit\n${_alloc_stack}\n${_freed_stack}")
    checked_case(write_after_free_quarantine/${b} write-after-free ${n} "heap-use-after-free at ${_hex}\n  1 byte\\(s\\) of a freed @N@-byte block were written after the free; the first at offset 3\n  block ${_hex}: @N@ bytes from malloc, freed\n  detected in the quarantine \\(a freed block leaving it\\) by thread" POOLKIT_QUARANTINE=300k)
    if(b STREQUAL "small")
      # A quarantine ring holds at most 2^20 blocks: with a bound of 1 GiB that many
      # 1-byte blocks push the written one out long before the bytes would.
      checked_case(write_after_free_ring_full/${b} write-after-free-many ${n} "heap-use-after-free at ${_hex}\n  1 byte\\(s\\) of a freed @N@-byte block were written after the free; the first at offset 3\n  block ${_hex}: @N@ bytes from malloc, freed\n  detected in the quarantine \\(a freed block leaving it\\) by thread" POOLKIT_QUARANTINE=1g POOLKIT_STACK_DEPTH=0)
    endif()
    # Only page protection sees a read: POOLKIT_CHECK=3 puts each block on its own pages.
    checked_case(read_after_free_pages/${b} read-after-free ${n} "heap-use-after-free at ${_hex}\n  read at offset ${half} of a freed @N@-byte block(.*\n)*${_alloc_stack}\n${_freed_stack}" POOLKIT_CHECK=3)
    checked_case(overflow_pages/${b} overflow ${n} "heap-buffer-overflow at ${_hex}\n" POOLKIT_CHECK=3)
    checked_case(stale_contents/${b} stale-contents ${n} "freed byte changed\n")
  endif()
  checked_case(double_free/${b} double-free ${n} "double-free at ${_hex}\n  free\\(\\) of a block that was already freed\n  block ${_hex}: @N@ bytes from malloc, freed\n${_at_free}\n${_alloc_stack}\n${_freed_stack}")
  checked_case(interior_free/${b} interior-free ${n} "invalid-free of an interior pointer at ${_hex}\n  free\\(\\) of an address [0-9]+ bytes inside a @N@-byte block\n${_block}${_at_free}\n${_alloc_stack}")
  checked_case(unaligned_free/${b} unaligned-free ${n} "invalid-free of an interior pointer at ${_hex}\n  free\\(\\) of an address 1 bytes inside a @N@-byte block\n${_block}${_at_free}\n${_alloc_stack}")
  checked_case(new_array_free/${b} new-free ${n} "alloc-dealloc-mismatch at ${_hex}\n  allocated with operator new\\[\\], released with free\\(\\)\n  block ${_hex}: @N@ bytes from operator new\\[\\], live\n${_at_free}\n  allocated by operator new\\[\\]\\(@N@\\)")
  checked_case(new_array_delete/${b} new-array-delete ${n} "alloc-dealloc-mismatch at ${_hex}\n  allocated with operator new\\[\\], released with operator delete\n(.*\n)*${_at_delete}")
  checked_case(malloc_delete/${b} malloc-delete ${n} "alloc-dealloc-mismatch at ${_hex}\n  allocated with malloc, released with operator delete\n${_block}${_at_delete}\n${_alloc_stack}")
  math(EXPR wrong "${n} + 8")
  checked_case(sized_delete/${b} sized-delete ${n} "new-delete-size-mismatch at ${_hex}\n  operator delete was given ${wrong} bytes; the block has @N@\n  block ${_hex}: @N@ bytes from operator new, live\n${_at_delete}")
  checked_case(fresh_contents/${b} fresh-contents ${n} "zero bytes 0 of @N@\n")
  checked_case(leaks/${b} leak ${n} "LEAKS: [0-9]+ bytes in [0-9]+ blocks still allocated at exit, from [0-9]+ call stacks\n(.*\n)*  ${leak3} bytes in 3 block\\(s\\) allocated at:\n    #0 ${_hex} in [^\n]*allocate_block" POOLKIT_LEAKS=1)
  # No bug, no report: the run must succeed and print nothing from poolkit.
  add_test(NAME checked/clean/${b} COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=$<TARGET_FILE:poolkit-malloc>
    POOLKIT_CHECK=1 POOLKIT_LEAKS=0 $<TARGET_FILE:checked_bug_program> clean ${n})
  set_tests_properties(checked/clean/${b} PROPERTIES FAIL_REGULAR_EXPRESSION "poolkit" TIMEOUT 120)
endforeach()

# Stacks memoized by call site (the same site from another caller at the same depth):
# each names its own caller.
foreach(n 8 4096)
  set(_memo_stacks "heap-use-after-free at ${_hex}\n(.*\n)*  allocated by malloc\\(${n}\\) in thread [0-9]+:\n    #0 ${_hex} in [^\n]*alloc_site[^\n]*${_ours}\n    #1 ${_hex} in [^\n]*alloc_from_b[^\n]*${_ours}\n(.*\n)*  freed by:\n    #0 ${_hex} in [^\n]*free_site[^\n]*${_ours}\n    #1 ${_hex} in [^\n]*free_from_b[^\n]*${_ours}")
  checked_case(write_after_free_memo/${n} write-after-free-memo ${n} "${_memo_stacks}")
  # Threads one after another: each new thread is handed the memo of the one before.
  checked_case(write_after_free_memo_threads/${n} write-after-free-memo-threads ${n} "${_memo_stacks}")
  # Recursion: the call site's chains walked by frame sizes, each its own (the
  # innermost branch first: left, right, left, right).
  set(_frame "    #[0-9]+ ${_hex} in [^\n]*")
  checked_case(write_after_free_recursive/${n} write-after-free-recursive ${n} "heap-use-after-free at ${_hex}\n(.*\n)*  allocated by malloc\\(${n}\\) in thread [0-9]+:\n${_frame}alloc_site[^\n]*\n${_frame}descend[^\n]*\n${_frame}branch_left[^\n]*\n${_frame}descend[^\n]*\n${_frame}branch_right[^\n]*\n${_frame}descend[^\n]*\n${_frame}branch_left[^\n]*\n${_frame}descend[^\n]*\n${_frame}branch_right[^\n]*\n${_frame}descend[^\n]*\n")
endforeach()
checked_case(invalid_free invalid-free 8 "invalid-free at ${_hex}\n  free\\(\\) of an address that is not a block from malloc\n  not an address malloc returned\n${_at_free}")
checked_case(stack_free stack-free 8 "invalid-free of a stack address at ${_hex}\n  free\\(\\) of an address that is not a block from malloc\n(.*\n)*${_at_free}")
checked_case(zero_size_write zero-size-write 8 "zero-size-block-access at ${_hex}\n  write at offset 0 of a block of 0 bytes \\(malloc\\(0\\) or new of an empty array\\)\n${_at_fault}\n  allocated at:\n    #0 ${_hex} in [^\n]*allocate_block")
# A SIGSEGV handler the program installs later: guard-page faults are still reported,
# other faults reach the program's handler.
checked_case(program_handler/guard_fault handler-overflow 4194304 "heap-buffer-overflow at ${_hex}\n  write at offset 4194304 of a 4194304-byte block")
checked_case(program_handler/other_fault handler-null 8 "the program's own SIGSEGV handler ran")
# A fault outside every block, with no handler of the program's: it dies of the SIGSEGV
# at once (the handler must not leave itself installed and fault forever).
add_test(NAME checked/program_handler/none COMMAND sh -c
  "LD_PRELOAD='$<TARGET_FILE:poolkit-malloc>' POOLKIT_CHECK=1 timeout 60 '$<TARGET_FILE:checked_bug_program>' wild-null 8; test $? -eq 139")
set_tests_properties(checked/program_handler/none PROPERTIES TIMEOUT 120)
# What follows a report: POOLKIT_CHECK_ACTION.
checked_case(action_abort double-free 8 "aborting \\(POOLKIT_CHECK_ACTION=log to go on, =exit to exit\\)")
checked_case(action_exit double-free 8 "exiting \\(POOLKIT_CHECK_ACTION=exit\\)" POOLKIT_CHECK_ACTION=exit)
checked_case(action_log double-free 8 "double-free at (.*\n)*done\n" POOLKIT_CHECK_ACTION=log)
# POOLKIT_SAMPLE without POOLKIT_CHECK: every block sampled onto its own guarded pages.
foreach(_bug overflow read-after-free)
  add_test(NAME checked/sampled/${_bug} COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=$<TARGET_FILE:poolkit-malloc>
    POOLKIT_SAMPLE=1 $<TARGET_FILE:checked_bug_program> ${_bug} 4096)
  set_tests_properties(checked/sampled/${_bug} PROPERTIES
    PASS_REGULAR_EXPRESSION "heap-(buffer-overflow|use-after-free) at ${_hex}\n  (write|read) at offset [0-9]+ of a (freed )?4096-byte block" TIMEOUT 120)
endforeach()
