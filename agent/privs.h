/* privs.h - give up the privileges loading needed once every program is attached.
 *
 * Loading and attaching needs CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN (cgroup programs),
 * CAP_SYS_PTRACE (the /proc snapshot) and, where tracefs is not mounted, CAP_SYS_ADMIN
 * (docs/hardening.md has the measurements). Running needs far less: CAP_DAC_READ_SEARCH to
 * stat credential files in 0700 homes at every rescan, and CAP_BPF only on kernels where the
 * bpf() syscall itself is privileged (tested with an empty effective set, not guessed).
 */
#ifndef NJ_PRIVS_H
#define NJ_PRIVS_H

/* Keep only what running needs: permitted, effective, inheritable and ambient sets, and the
 * bounding set when we may change it; no_new_privs. watch_map_fd is a map the agent updates
 * later. Logs what was kept. Returns 0, or -1 if the drop failed (logged; the agent runs on
 * with what it had). */
int nj_privs_drop(int watch_map_fd);

/* What the agent kept, for status: "uid 995, capabilities cap_dac_read_search" or
 * "not dropped: ..." before or without a drop. */
const char *nj_privs_kept(void);

#endif
