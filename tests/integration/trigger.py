#!/usr/bin/env python3
"""Trigger actions the agent must see and print the ground truth as one JSON line.

Loopback only. Each subcommand prints what the test compares the agent's event with.
"""
import errno
import json
import os
import socket
import sys


def out(**kw):
    kw.setdefault("pid", os.getpid())
    kw.setdefault("ppid", os.getppid())
    print(json.dumps(kw), flush=True)


def free_port(family, host):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def tcp(host):
    """listen, connect, accept: the three events of one loopback connection"""
    fam = family_of(host)
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(1)
    lport = srv.getsockname()[1]
    cli = socket.socket(fam, socket.SOCK_STREAM)
    cli.connect((host, lport))
    cport = cli.getsockname()[1]
    conn, peer = srv.accept()
    out(listen_port=lport, client_port=cport, peer_port=peer[1])
    conn.close()
    cli.close()
    srv.close()


def refused(host):
    fam = family_of(host)
    port = free_port(fam, host)
    s = socket.socket(fam, socket.SOCK_STREAM)
    err = s.connect_ex((host, port))
    out(port=port, errno=err)


def nonblock(host):
    """a non-blocking connect to a listener that never accepts: EINPROGRESS or done"""
    fam = family_of(host)
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setblocking(False)
    err = s.connect_ex((host, port))
    out(port=port, errno=err, inprogress=(err == errno.EINPROGRESS))


def udp(host, port1, port2):
    """unconnected sends: two to one destination, one to another"""
    fam = family_of(host)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.sendto(b"q", (host, int(port1)))
    s.sendto(b"q", (host, int(port1)))
    s.sendto(b"q", (host, int(port2)))
    out(sport=s.getsockname()[1])


def udp_connect(host, port):
    fam = family_of(host)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, int(port)))
    out(sport=s.getsockname()[1])


def open_file(path, mode="r"):
    with open(path, mode):
        pass
    out(path=path)


def wait_then_open(ready, fifo, path):
    """a process that exists before the agent: report, wait for a go, then open"""
    with open(ready, "w") as f:
        f.write(str(os.getpid()))
    with open(fifo) as f:
        f.read()
    with open(path):
        pass


def flood(path, count):
    for _ in range(int(count)):
        with open(path):
            pass
    out(count=int(count))


def exec_memfd(binary):
    """run a copy of a binary from a memfd: the exe must show the memfd, not a path"""
    fd = os.memfd_create("nj-memfd")
    with open(binary, "rb") as f:
        os.write(fd, f.read())
    out(fd=fd)
    os.execve(fd, ["nj-memfd-child", "memfd-arg"], {})


def exec_fd(binary):
    """fexecve: the caller names /dev/fd/N, the kernel knows the real file"""
    fd = os.open(binary, os.O_RDONLY)
    out(fd=fd)
    os.execve(fd, ["nj-fd-child", "fd-arg"], {})


def print_free_port(host):
    """a TCP port nobody listens on now, for a server the test starts"""
    print(free_port(family_of(host), host), flush=True)


COMMANDS = {
    "free-port": print_free_port,
    "tcp": tcp,
    "refused": refused,
    "nonblock": nonblock,
    "udp": udp,
    "udp-connect": udp_connect,
    "open": open_file,
    "wait-then-open": wait_then_open,
    "flood": flood,
    "exec-memfd": exec_memfd,
    "exec-fd": exec_fd,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: trigger.py {%s} ARGS..." % ",".join(COMMANDS))
    COMMANDS[sys.argv[1]](*sys.argv[2:])
