#!/usr/bin/env python3
"""A userspace link emulator between two network namespaces (a stand-in for tc netem).

Run as root in the root namespace:

    python3 link.py --a-netns NS_A --a-addr 10.200.9.1 --b-netns NS_B --b-addr 10.200.9.2 \
        [--a-dev vqla --b-dev vqlb] [--seed N]

It creates a TUN device (IFF_TUN | IFF_NO_PI) inside each namespace, gives the two a
point-to-point pair of addresses (MTU 1500), and forwards every IP packet read from one TUN
to the other, applying the current condition to each direction independently ("ab" is A to B,
"ba" is B to A; each direction has its own random state).

Protocol, one JSON object per line:

  stdin (a new condition replaces the whole previous one):
    {}                                          clean link
    {"loss": 0.2}                               independent random loss
    {"ge": {"p": 0.02, "r": 0.25, "lossGood": 0.0, "lossBad": 0.8}}
                                                Gilbert-Elliott, as netem's `gemodel p r 1-h 1-k`
                                                (defaults: r = 1 - p, lossGood = 0, lossBad = 1)
    {"delay": 150, "jitter": 100}               ms; delay + uniform(-jitter, +jitter), floored at 0,
                                                so packets may reorder (as with netem's jitter)
    {"loss": 0.05, "delay": 150, "jitter": 100} loss (or ge) combines with delay
    {"blackhole": true}                         drop everything (packets still in flight are dropped too)
    {"stats": true}                             a query, not a condition

  stdout:
    {"ready": true}                             once both devices are up and addressed
    {"ok": true, "condition": {...}}            after each condition (normalised, with defaults)
    {"ok": false, "error": "..."}               on a malformed line; the previous condition stays
    {"stats": {"ab": {"forwarded": n, "dropped": n, "queued": n}, "ba": {...}}}

Packets already delayed when a new condition arrives keep their due time, except under
`blackhole`, which drops them. The process exits on SIGTERM, SIGINT or EOF on stdin; closing the
TUN file descriptors removes the devices. Diagnostics go to stderr only.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import fcntl
import heapq
import json
import math
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time
from collections import deque

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MTU = 1500
READ_SIZE = 65536
READ_BUDGET = 256  # packets read from one device per wake-up, so neither side starves the other
BACKLOG_LIMIT = 4096  # packets waiting for a TUN that refused a write (EAGAIN)


class Stop(Exception):
    pass


def die(message: str) -> None:
    sys.stderr.write(f"link.py: {message}\n")
    sys.stderr.flush()
    sys.exit(1)


# ---------------------------------------------------------------- namespaces and devices

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def open_tun_in(netns: str, dev: str, home_fd: int) -> int:
    """Opens a TUN device named `dev` inside namespace `netns`, then returns to `home_fd`'s."""
    ns_fd = os.open(f"/var/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(ns_fd)
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                ifr = struct.pack("16sH22x", dev.encode(), IFF_TUN | IFF_NO_PI)
                fcntl.ioctl(fd, TUNSETIFF, ifr)
            except BaseException:
                os.close(fd)
                raise
        finally:
            setns(home_fd)
    finally:
        os.close(ns_fd)
    return fd


def run(*args: str, check: bool = True) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")


def configure(netns: str, dev: str, addr: str, peer: str) -> None:
    ns = ("ip", "netns", "exec", netns)
    # No IPv6 on the link: router solicitations and MLD reports would only add noise to the counters.
    run(*ns, "sysctl", "-q", "-w", f"net.ipv6.conf.{dev}.disable_ipv6=1", check=False)
    run(*ns, "ip", "link", "set", "dev", dev, "mtu", str(MTU))
    run(*ns, "ip", "addr", "add", addr, "peer", peer, "dev", dev)
    run(*ns, "ip", "link", "set", "dev", dev, "up")


# ---------------------------------------------------------------- conditions

CONDITION_KEYS = {"loss", "ge", "delay", "jitter", "blackhole"}
GE_KEYS = {"p", "r", "lossGood", "lossBad"}


def _number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}")
    return value


def parse_condition(obj: dict) -> dict:
    """Validates a condition and returns it normalised (defaults filled in)."""
    unknown = set(obj) - CONDITION_KEYS
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    out: dict = {}
    if "blackhole" in obj:
        if not isinstance(obj["blackhole"], bool):
            raise ValueError("blackhole must be true or false")
        if obj["blackhole"]:
            if len(obj) > 1:
                raise ValueError("blackhole cannot be combined with other keys")
            return {"blackhole": True}
    if "loss" in obj and "ge" in obj:
        raise ValueError("loss and ge cannot be combined")
    if "loss" in obj:
        loss = _number(obj["loss"], "loss", 0, 1)
        if loss > 0:
            out["loss"] = loss
    if "ge" in obj:
        ge = obj["ge"]
        if not isinstance(ge, dict):
            raise ValueError("ge must be an object")
        unknown = set(ge) - GE_KEYS
        if unknown:
            raise ValueError(f"unknown ge key(s): {', '.join(sorted(unknown))}")
        if "p" not in ge:
            raise ValueError("ge.p is required")
        p = _number(ge["p"], "ge.p", 0, 1)
        out["ge"] = {
            "p": p,
            "r": _number(ge.get("r", 1 - p), "ge.r", 0, 1),
            "lossGood": _number(ge.get("lossGood", 0.0), "ge.lossGood", 0, 1),
            "lossBad": _number(ge.get("lossBad", 1.0), "ge.lossBad", 0, 1),
        }
    delay = _number(obj.get("delay", 0), "delay", 0, 3_600_000)
    jitter = _number(obj.get("jitter", 0), "jitter", 0, 3_600_000)
    if delay > 0 or jitter > 0:
        out["delay"] = delay
        out["jitter"] = jitter
    return out


class Direction:
    """One direction of the link: its counters, its random state and its Gilbert-Elliott state."""

    def __init__(self, name: str, src: int, dst: int, rng: random.Random) -> None:
        self.name = name
        self.src = src
        self.dst = dst
        self.rng = rng
        self.forwarded = 0
        self.dropped = 0
        self.queued = 0
        self.bad = False  # Gilbert-Elliott state

    def reset(self) -> None:
        self.bad = False

    def lose(self, cond: dict) -> bool:
        if cond.get("blackhole"):
            return True
        if "loss" in cond:
            return self.rng.random() < cond["loss"]
        ge = cond.get("ge")
        if ge is not None:
            # As netem's loss_gilb_ell: the loss is drawn for the state the packet finds, and the
            # state moves on (Good -> Bad with p, Bad -> Good with r) with the same packet.
            if self.bad:
                if self.rng.random() < ge["r"]:
                    self.bad = False
                return self.rng.random() < ge["lossBad"]
            if self.rng.random() < ge["p"]:
                self.bad = True
            return self.rng.random() < ge["lossGood"]
        return False

    def delay_s(self, cond: dict) -> float:
        delay = cond.get("delay", 0)
        jitter = cond.get("jitter", 0)
        if delay == 0 and jitter == 0:
            return 0.0
        ms = delay + (self.rng.uniform(-jitter, jitter) if jitter > 0 else 0)
        return max(0.0, ms) / 1000.0


# ---------------------------------------------------------------- the forwarding loop


class Link:
    def __init__(self, a_fd: int, b_fd: int, seed: int | None) -> None:
        seeder = random.Random(seed)
        self.ab = Direction("ab", a_fd, b_fd, random.Random(seeder.getrandbits(64)))
        self.ba = Direction("ba", b_fd, a_fd, random.Random(seeder.getrandbits(64)))
        self.by_src = {a_fd: self.ab, b_fd: self.ba}
        self.condition: dict = {}
        self.heap: list[tuple[float, int, Direction, bytes]] = []
        self.seq = 0
        self.backlog: dict[int, deque[tuple[Direction, bytes]]] = {a_fd: deque(), b_fd: deque()}
        self.stdin_rest = b""

    # -- output

    def emit(self, obj: dict) -> None:
        sys.stdout.write(json.dumps(obj, separators=(", ", ": ")) + "\n")
        sys.stdout.flush()

    # -- control

    def handle_line(self, line: bytes) -> None:
        text = line.strip()
        if not text:
            return
        try:
            try:
                obj = json.loads(text)
            except (ValueError, UnicodeDecodeError) as err:
                raise ValueError(f"not JSON: {err}") from None
            if not isinstance(obj, dict):
                raise ValueError("expected a JSON object")
            if obj.get("stats") is True and len(obj) == 1:
                self.emit({"stats": {d.name: {"forwarded": d.forwarded, "dropped": d.dropped, "queued": d.queued} for d in (self.ab, self.ba)}})
                return
            condition = parse_condition(obj)
        except (ValueError, TypeError) as err:
            self.emit({"ok": False, "error": str(err)})
            return
        self.condition = condition
        for d in (self.ab, self.ba):
            d.reset()
        if condition.get("blackhole"):
            self.flush_in_flight()
        self.emit({"ok": True, "condition": condition})

    def flush_in_flight(self) -> None:
        for _, _, d, _ in self.heap:
            d.dropped += 1
            d.queued -= 1
        self.heap.clear()

    def read_stdin(self) -> None:
        chunk = os.read(0, 65536)
        if not chunk:
            if self.stdin_rest.strip():
                self.handle_line(self.stdin_rest)
            raise Stop("stdin closed")
        lines = (self.stdin_rest + chunk).split(b"\n")
        self.stdin_rest = lines.pop()
        for line in lines:
            self.handle_line(line)

    # -- packets

    def send(self, d: Direction, packet: bytes) -> None:
        backlog = self.backlog[d.dst]
        if backlog:
            self.queue_backlog(d, packet)
            return
        try:
            os.write(d.dst, packet)
            d.forwarded += 1
        except BlockingIOError:
            self.queue_backlog(d, packet)
        except OSError as err:
            d.dropped += 1
            if err.errno not in (errno.EINVAL, errno.EIO, errno.ENOBUFS, errno.EMSGSIZE):
                raise

    def queue_backlog(self, d: Direction, packet: bytes) -> None:
        backlog = self.backlog[d.dst]
        if len(backlog) >= BACKLOG_LIMIT:
            d.dropped += 1
        else:
            backlog.append((d, packet))

    def drain_backlog(self, fd: int) -> None:
        backlog = self.backlog[fd]
        while backlog:
            d, packet = backlog[0]
            try:
                os.write(fd, packet)
                d.forwarded += 1
            except BlockingIOError:
                return
            except OSError:
                d.dropped += 1
            backlog.popleft()

    def read_tun(self, fd: int, now: float) -> None:
        d = self.by_src[fd]
        cond = self.condition
        for _ in range(READ_BUDGET):
            try:
                packet = os.read(fd, READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            if not packet:
                return
            if d.lose(cond):
                d.dropped += 1
                continue
            wait = d.delay_s(cond)
            if wait <= 0:
                self.send(d, packet)
            else:
                self.seq += 1
                d.queued += 1
                heapq.heappush(self.heap, (now + wait, self.seq, d, packet))

    def release_due(self) -> None:
        now = time.monotonic()
        heap = self.heap
        while heap and heap[0][0] <= now:
            _, _, d, packet = heapq.heappop(heap)
            d.queued -= 1
            self.send(d, packet)

    def loop(self) -> None:
        tuns = [self.ab.src, self.ba.src]
        reads = [0, *tuns]
        while True:
            timeout = None
            if self.heap:
                timeout = max(0.0, self.heap[0][0] - time.monotonic())
            writes = [fd for fd in tuns if self.backlog[fd]]
            readable, writable, _ = select.select(reads, writes, [], timeout)
            for fd in writable:
                self.drain_backlog(fd)
            now = time.monotonic()
            for fd in readable:
                if fd == 0:
                    self.read_stdin()
                else:
                    self.read_tun(fd, now)
            self.release_due()


def main() -> None:
    parser = argparse.ArgumentParser(description="Userspace link emulator between two network namespaces.")
    parser.add_argument("--a-netns", required=True)
    parser.add_argument("--a-addr", required=True)
    parser.add_argument("--b-netns", required=True)
    parser.add_argument("--b-addr", required=True)
    parser.add_argument("--a-dev", default="vqla")
    parser.add_argument("--b-dev", default="vqlb")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    for dev in (args.a_dev, args.b_dev):
        if not 0 < len(dev.encode()) < 16:
            die(f"device name {dev!r} must be 1 to 15 bytes")

    def on_signal(signum: int, _frame: object) -> None:
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    fds: list[int] = []
    failure: str | None = None
    try:
        home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            a_fd = open_tun_in(args.a_netns, args.a_dev, home)
            fds.append(a_fd)
            b_fd = open_tun_in(args.b_netns, args.b_dev, home)
            fds.append(b_fd)
        finally:
            os.close(home)
        configure(args.a_netns, args.a_dev, args.a_addr, args.b_addr)
        configure(args.b_netns, args.b_dev, args.b_addr, args.a_addr)
        link = Link(a_fd, b_fd, args.seed)
        link.emit({"ready": True})
        link.loop()
    except Stop:
        pass
    except (OSError, RuntimeError) as err:
        failure = str(err)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
    if failure is not None:
        die(failure)


if __name__ == "__main__":
    main()
