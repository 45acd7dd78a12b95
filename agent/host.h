/* host.h - this host's identity in every record. */
#ifndef NJ_HOST_H
#define NJ_HOST_H

#include <stddef.h>

/* A host id stable across reboots and reinstalls of the agent: an HMAC-SHA256 of
 * /etc/machine-id keyed with Nightjar's application id (the machine id itself is not exposed,
 * as machine-id(5) recommends), as 32 hex digits. Without a machine id, a random id kept in
 * state_dir/host-id. Returns 0, or -1 with a message in err. */
int nj_host_id(char out[33], const char *machine_id_path, const char *state_dir, char *err,
	       size_t errlen);

#endif
