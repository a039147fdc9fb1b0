/* The musl build links Debian's libseccomp.a, compiled against glibc with _FORTIFY_SOURCE:
 * its PFC text export calls glibc's checked fprintf, which musl does not have. This is that
 * function, checks aside: plain vfprintf (the va_list ABI is the same for both libcs on
 * x86_64, and FILE is opaque to the caller). */
#include <stdarg.h>
#include <stdio.h>

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list ap;
	int n;

	(void)flag;
	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}
