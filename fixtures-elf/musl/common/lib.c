/* The body of every musl fixture library: one symbol, no libc. */
int depclose_fixture_lib(void) { return 0; }
