/* true.c - nightjar-true: the cheapest program to exec, for the steady exec-rate load.
 *
 * A static binary with no C library whose entry point exits 0 at once. On the project VM a
 * fork+exec+wait of the dynamically linked /bin/true costs 2-3 ms, most of it in the dynamic
 * loader's mappings, so two vCPUs cannot start it 1,600 times a second; this one costs a
 * fraction of that. The kernel still does all an exec does (bprm, a new mm, the exec and exit
 * tracepoints, audit's execve record), which is what a monitor pays for.
 */
#if defined(__x86_64__)
__asm__(".globl _start\n"
	"_start:\n"
	"	mov $60, %eax\n" /* exit */
	"	xor %edi, %edi\n"
	"	syscall\n");
#elif defined(__aarch64__)
__asm__(".globl _start\n"
	"_start:\n"
	"	mov x8, #93\n" /* exit */
	"	mov x0, #0\n"
	"	svc #0\n");
#else
#error "nightjar-true: add an entry point for this architecture"
#endif
