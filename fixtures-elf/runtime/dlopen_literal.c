/* Loads libz.so.1 by a string literal, with no .note.dlopen note: the literal in .rodata is
   the only static evidence. Prints zlib's version; exit 0 when loaded. */
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
    void *h = dlopen("libz.so.1", RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    const char *(*version)(void) = (const char *(*)(void))dlsym(h, "zlibVersion");
    if (!version)
        return 1;
    printf("%s\n", version());
    return 0;
}
