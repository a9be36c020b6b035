/* The body of every fixture library: one symbol, no libc. */
int depclose_fixture_lib(void) { return 0; }
