/* The body of every musl fixture executable (linked against musl's libc.so). */
#include <stdio.h>
int main(void) { puts("depclose musl fixture"); return 0; }
