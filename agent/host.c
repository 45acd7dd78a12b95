/* host.c - the host id. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "host.h"

/* Nightjar's application id: fixed forever, or every host id changes. */
static const unsigned char app_id[16] = {0x6e, 0x69, 0x67, 0x68, 0x74, 0x6a, 0x61, 0x72,
					 0x8d, 0x2f, 0x41, 0x0b, 0x95, 0xc7, 0x3e, 0x5a};

static void hex(char *out, const unsigned char *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -1;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int nj_host_id(char out[33], const char *machine_id_path, const char *state_dir, char *err,
	       size_t errlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE], rnd[16];
	char mid[128], path[4096 + 16];
	unsigned int maclen = 0;
	FILE *f;

	if (read_line(machine_id_path, mid, sizeof(mid)) == 0 && strlen(mid) >= 32) {
		if (!HMAC(EVP_sha256(), app_id, sizeof(app_id), (unsigned char *)mid, strlen(mid),
			  mac, &maclen) ||
		    maclen < 16) {
			snprintf(err, errlen, "host id: HMAC-SHA256 failed");
			return -1;
		}
		hex(out, mac, 16);
		return 0;
	}
	/* no machine id (a minimal container): a random id, kept */
	snprintf(path, sizeof(path), "%s/host-id", state_dir);
	if (read_line(path, mid, sizeof(mid)) == 0 && strlen(mid) == 32) {
		memcpy(out, mid, 33);
		return 0;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		snprintf(err, errlen, "host id: no random bytes for a new id");
		return -1;
	}
	hex(out, rnd, sizeof(rnd));
	f = fopen(path, "we");
	if (!f || fprintf(f, "%s\n", out) < 0 || fclose(f) != 0) {
		snprintf(err, errlen, "host id: cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
