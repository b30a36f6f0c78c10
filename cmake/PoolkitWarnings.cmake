# Warnings for every poolkit target: -Wall -Wextra -Wpedantic, errors when POOLKIT_WERROR is on.
function(poolkit_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
    $<$<BOOL:${POOLKIT_WERROR}>:-Werror>)
endfunction()
