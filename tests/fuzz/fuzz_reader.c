/* fuzz_reader.c - libFuzzer target for `nightjarctl read`: file bytes -> spool reader -> protobuf
 * unpack -> JSON printer and text line, the path a capture file "from anywhere" takes.
 *
 * Each input is one file (segment or capture) given to nj_reader_open() through a memfd, so the
 * reader's own fopen/fread are what run. A random change to a payload almost never keeps the
 * frame's crc32, so every input whose frames' checksums are not all right is read a second time
 * with them recomputed: the first pass fuzzes the framing and its damage paths, the second gets
 * mutated payloads through to nj_record_unpack() and the printers.
 *
 * Build and run: tests/fuzz/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "json.h"
#include "nightjar.pb-c.h"
#include "pbjson.h"
#include "spool.h"
#include "text.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

static int file_fd = -1;
static char file_path[64];
static FILE *devnull;
static uint8_t *fixed; /* the input with its checksums recomputed */
static size_t fixed_cap;

/* Undefined behaviour is a finding like a crash: stop on it so libFuzzer keeps the input,
 * whether the binary runs under tests/fuzz/run.sh or on its own to reproduce. */
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static void die(const char *what)
{
	perror(what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* one memfd for every input: no files left behind, nothing on disk between runs */
	file_fd = memfd_create("fuzz_reader", MFD_CLOEXEC);
	if (file_fd < 0)
		die("memfd_create");
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	/* the text line is printed for real (vfprintf runs on every field), then thrown away */
	devnull = fopen("/dev/null", "we");
	if (!devnull)
		die("/dev/null");
	return 0;
}

static void set_file(const uint8_t *data, size_t size)
{
	if (ftruncate(file_fd, 0) < 0)
		die("ftruncate");
	if (size && pwrite(file_fd, data, size, 0) != (ssize_t)size)
		die("pwrite");
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Walk the frames as nj_reader_next() does and write the right crc32 into each whole one.
 * Returns whether any checksum changed. */
static int fix_checksums(uint8_t *p, size_t size)
{
	size_t off = NJ_FILE_HEADER_LEN; /* the caller checked size >= off; it stays so */
	int changed = 0;

	while (size - off >= NJ_FRAME_HEADER_LEN) {
		uint32_t len = get32(p + off), crc;

		if (len > NJ_FRAME_MAX || len > size - off - NJ_FRAME_HEADER_LEN)
			break;
		/* covers the sequence and the payload, as frame_crc() in spool.c */
		crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), p + off + 8, 8 + len);
		if (get32(p + off + 4) != crc) {
			p[off + 4] = (uint8_t)crc;
			p[off + 5] = (uint8_t)(crc >> 8);
			p[off + 6] = (uint8_t)(crc >> 16);
			p[off + 7] = (uint8_t)(crc >> 24);
			changed = 1;
		}
		off += NJ_FRAME_HEADER_LEN + len;
	}
	return changed;
}

/* What do_read() in ctl/nightjarctl.c does with a file, with both output formats at once. */
static void read_file(void)
{
	const uint8_t *payload;
	struct nj_reader *r;
	struct nj_json j;
	char err[512];
	uint64_t seq;
	size_t len;
	int n;

	r = nj_reader_open(file_path, err, sizeof(err));
	if (!r)
		return;
	nj_json_init(&j);
	while ((n = nj_reader_next(r, &seq, &payload, &len, err, sizeof(err))) != 0) {
		Nightjar__Record *rec;

		if (n < 0)
			continue;
		rec = nj_record_unpack(payload, len);
		if (!rec)
			continue;
		/* the --kind and --pid filters */
		(void)nj_record_kind(rec);
		(void)nj_record_process(rec);
		nj_json_reset(&j);
		nj_pbjson_message(&j, NULL, &rec->base);
		if (!j.oom)
			fwrite(j.buf, 1, j.len, devnull);
		nj_text_record(devnull, rec);
		nightjar__record__free_unpacked(rec, NULL);
	}
	nj_json_free(&j);
	nj_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	set_file(data, size);
	read_file();

	if (size < NJ_FILE_HEADER_LEN + NJ_FRAME_HEADER_LEN)
		return 0;
	if (size > fixed_cap) {
		uint8_t *b = realloc(fixed, size);

		if (!b)
			die("realloc");
		fixed = b;
		fixed_cap = size;
	}
	memcpy(fixed, data, size);
	if (fix_checksums(fixed, size)) {
		set_file(fixed, size);
		read_file();
	}
	return 0;
}
