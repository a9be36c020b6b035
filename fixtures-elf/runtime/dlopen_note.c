/* Loads libz.so.1 by a name it builds at run time, so the file holds no "libz.so.1" string
   literal: the only static evidence is its .note.dlopen note (owner "FDO", type 0x407c0c0a),
   laid out as systemd's ELF_NOTE_DLOPEN emits it. Prints zlib's version; exit 0 when loaded. */
#include <dlfcn.h>
#include <stdio.h>

__asm__("\t.pushsection .note.dlopen,\"a\",@note\n"
        "\t.balign 4\n"
        "\t.long 2f-1f\n"
        "\t.long 4f-3f\n"
        "\t.long 0x407c0c0a\n"
        "1:\t.asciz \"FDO\"\n"
        "2:\t.balign 4\n"
        "3:\t.asciz \"[{\\\"soname\\\":[\\\"libz.so.1\\\"],\\\"feature\\\":\\\"zlib\\\","
        "\\\"description\\\":\\\"deflate support\\\",\\\"priority\\\":\\\"required\\\"}]\"\n"
        "4:\t.balign 4\n"
        "\t.popsection\n");

/* "libz.so.1", each byte XOR 0x55. */
static const unsigned char encoded[] = {0x39, 0x3c, 0x37, 0x2f, 0x7b, 0x26, 0x3a, 0x7b, 0x64};
static volatile unsigned char key = 0x55;

int main(void) {
    char name[sizeof encoded + 1];
    for (unsigned i = 0; i < sizeof encoded; i++)
        name[i] = (char)(encoded[i] ^ key);
    name[sizeof encoded] = 0;
    void *h = dlopen(name, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen %s: %s\n", name, dlerror());
        return 1;
    }
    const char *(*version)(void) = (const char *(*)(void))dlsym(h, "zlibVersion");
    if (!version)
        return 1;
    printf("%s\n", version());
    return 0;
}
