/* The body of every fixture executable. Under LD_TRACE_LOADED_OBJECTS it never runs. */
int main(void) { return 0; }
