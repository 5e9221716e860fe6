# SPDX-License-Identifier: MIT
"""libcoro-gdb.py - gdb sees every coroutine of a libcoro program.

Commands (live process or core file, every thread):

    info coroutines [ID...]        one line per live coroutine
    coroutine ID [bt [ARGS]]       backtrace of one coroutine (any `bt` ARGS)
    coroutine ID frame N           select frame N of a suspended coroutine
    coroutine ID CMD...            run any gdb command in its context
    coroutine apply all|ID... CMD  CMD for each (e.g. `coroutine apply all bt`)
    coroutine none                 back to the thread's own frames

Where it reads: libcoro links every thread's state (a coro__tls, which holds
the thread's list of live coroutines, coro__tls.all) into one global,
coro__threads (src/registry.c), so no thread-local variable is read and no
libthread_db is needed: this works on core files, static programs and qemu's
gdbstub alike.  Every field is read by name through libcoro's own debug
information; the user's program needs none.

How a suspended coroutine is unwound: its context switch left its callee-saved
registers and stack pointer in coro.ctx (src/arch/).  An unwinder (gdb's
Python unwinder API) claims the selected thread's innermost frame and says
that the frame's caller has the coroutine's saved registers: gdb then unwinds
the coroutine's stack with its usual DWARF rules.  Nothing is written to the
inferior, which is what makes it work on a core file.  The thread's own frame
stays frame 0 underneath; the commands here hide it and number the
coroutine's frames from 0.

Everything the user can get wrong or the inferior can have broken (no libcoro,
no debug info, a bad or stale id, a damaged list) ends in a one-line message,
never a Python traceback.
"""

import re
import time

import gdb
import gdb.unwinder

# coro.state, and the states coro_get_state() derives (include/coro/core.h).
CREATED, RUNNING, SUSPENDED, NORMAL, CLOSED, WAITING = range(6)
STATE_NAMES = ["CREATED", "RUNNING", "SUSPENDED", "NORMAL", "CLOSED", "WAITING"]
# Flags of coro.flags and coro.sched (src/internal.h).
F_MAIN = 1
S_SPAWNED, S_STARTED, S_CANCELLED, S_YIELDED = 1, 4, 8, 64
# Bounds against damaged lists: no real program has more threads or coroutines
# than this on one thread, and a cycle must not hang the debugger.
MAX_THREADS = 1 << 16
MAX_COROUTINES = 1 << 24


class CoroError(Exception):
    """A message for the user (raised as gdb.GdbError at the command's edge)."""


def _field(value, name, default=None):
    """value[name], or default when the field does not exist (layouts change)."""
    try:
        return value[name]
    except (gdb.error, KeyError, TypeError):
        return default


def _int(value, name, default=0):
    v = _field(value, name)
    if v is None:
        return default
    return int(v)


def _addr(value):
    return int(value.cast(gdb.lookup_type("unsigned long")))


def _cstring(ptr_or_array, limit):
    """A C string of at most `limit` bytes (a char pointer or array), cut at its NUL."""
    v = ptr_or_array
    addr = _addr(v.address) if v.type.strip_typedefs().code == gdb.TYPE_CODE_ARRAY else _addr(v)
    data = bytes(gdb.selected_inferior().read_memory(addr, limit))
    return data.split(b"\0", 1)[0].decode("utf-8", "replace")


def _has_field(typ, name):
    try:
        return any(f.name == name for f in typ.strip_typedefs().fields())
    except (gdb.error, TypeError):
        return False


def _human(n):
    """Bytes as 123, 4.0K, 64K, 1.5M."""
    if n < 1024:
        return "%d" % n
    for unit in ("K", "M", "G"):
        n /= 1024.0
        if n < 1024 or unit == "G":
            return ("%.0f%s" % (n, unit)) if n >= 10 or n == int(n) else "%.1f%s" % (n, unit)
    return str(n)


def _duration(ns):
    s = ns / 1e9
    sign = "-" if s < 0 else "+"
    s = abs(s)
    if s < 1:
        return "%s%.0fms" % (sign, s * 1000)
    if s < 120:
        return "%s%.1fs" % (sign, s)
    if s < 7200:
        return "%s%dm%02ds" % (sign, s // 60, s % 60)
    return "%s%dh%02dm" % (sign, s // 3600, (s % 3600) // 60)


# --- the inferior's libcoro ------------------------------------------------------


class Coroutine(object):
    """What is read of one listed coroutine."""

    def __init__(self, value, tls, thread, gdb_thread):
        self.value = value  # gdb.Value of type struct coro
        self.address = _addr(value.address)
        self.tls = tls  # the coro__tls it is listed in
        self.thread = thread  # Thread
        self.gdb_thread = gdb_thread  # gdb.InferiorThread or None
        self.id = _int(value, "id", self.address)
        self.name = self._name()
        self.raw_state = int(value["state"])
        self.sched = _int(value, "sched")
        self.state = self._state()

    def _cold(self):
        """Where the rarely used fields are: *coro.cold, None when it is NULL
        (a copy-stack coroutine that has not needed them: they read as
        empty), or the record itself in a layout without the split."""
        cold = _field(self.value, "cold")
        if cold is None:
            return self.value
        if int(cold) == 0:
            return None
        return cold.dereference()

    def _cold_field(self, name):
        cold = self._cold()
        return _field(cold, name) if cold is not None else None

    def _name(self):
        try:
            cold = self._cold()
            return _cstring(cold["name"], 32) if cold is not None else ""
        except gdb.error:
            return "?"

    def _state(self):
        st = self.raw_state
        if st != RUNNING or self.is_current():
            return st
        # Marked RUNNING but not current: NORMAL if it is in the current resume
        # chain, else a coroutine of its chain is parked (as coro_get_state()).
        r = self.tls["current"]
        for _ in range(MAX_COROUTINES):
            if int(r) == 0 or _int(r.dereference(), "flags") & F_MAIN:
                break
            if _addr(r) == self.address:
                return NORMAL
            r = r["resumer"]
        return WAITING

    def is_current(self):
        return _addr(self.tls["current"]) == self.address

    def micro_thread(self):
        return bool(self.sched & S_SPAWNED)

    def started(self):
        if self.raw_state in (CREATED, CLOSED):
            return False
        return not (self.sched & S_SPAWNED and not self.sched & S_STARTED)

    def waiting_on(self):
        """(what, object address or 0), as introspect.c's waiting_on()."""
        if self.state != WAITING:
            return None, 0
        parked = self._cold_field("parked")
        if parked is not None and int(parked) != 0 and _addr(parked) != self.address:
            return "chain", _addr(parked)
        what = self._cold_field("wait_what")
        if what is not None and int(what) != 0:
            try:
                text = _cstring(what, 32)
            except gdb.error:
                text = "?"
            obj = self._cold_field("wait_obj")
            return text, (_addr(obj) if obj is not None else 0)
        if self.sched & S_SPAWNED and not self.sched & S_STARTED:
            return "start", 0
        if self.sched & S_YIELDED:
            return "yield", 0
        return None, 0

    def deadline(self):
        """When its timer fires (absolute ns), or None.  The deadline is in
        the thread's timer heap (coro__sched.heap[heap_at - 1]), or in the
        record in a layout before that."""
        at = self._cold_field("heap_at")
        if at is None or int(at) == 0:
            return None
        if _field(self.value, "deadline") is not None:
            return _int(self.value, "deadline")
        try:
            return int(self.tls["sched"]["heap"][int(at) - 1]["deadline"])
        except (gdb.error, gdb.MemoryError):
            return None

    def stack(self):
        """(lo, hi, size) of the stack it runs on: its own (in its cold part),
        or its thread's shared stack for a copy-stack coroutine."""
        st = _field(self.value, "stack")  # a layout before the split
        if st is None and self.is_copy():
            cs = _field(self.tls, "copystack")
            if cs is not None and int(cs) != 0:
                st = _field(cs.dereference(), "shared")
        elif st is None:
            st = self._cold_field("stack")
        if st is None:
            return 0, 0, 0
        return _addr(st["lo"]), _addr(st["hi"]), _int(st, "size")

    def saved_sp(self):
        ctx = self.value["ctx"]
        uc = _field(ctx, "uc")
        if uc is not None:  # the ucontext build
            mc = uc["uc_mcontext"]
            if _has_field(mc.type, "gregs"):
                return int(mc["gregs"][15])  # REG_RSP
            return int(mc["sp"])
        return _addr(ctx["sp"])

    def is_copy(self):
        """A copy-stack coroutine (coro.flags has CORO__F_COPY): it runs on its
        thread's shared stack, and keeps its frames in a heap buffer
        (coro.saved) while another copy-stack coroutine occupies it."""
        if _field(self.value, "saved") is None:
            return False  # a library without copy-stack mode
        try:
            bit = int(gdb.parse_and_eval("(unsigned)CORO__F_COPY"))
        except gdb.error:
            bit = 4  # the enumerator's value, should its debug info be missing
        return (_int(self.value, "flags") & bit) != 0

    def copy_stack(self):
        """Displaced: a copy-stack coroutine whose frames are not on the shared
        stack now (another copy-stack coroutine of its thread occupies it), so
        its saved registers point at someone else's frames."""
        if not self.is_copy():
            return False
        occ = _field(self.tls, "copy_occupant")
        return occ is None or _addr(occ) != self.address

    def saved_bytes(self):
        """The bytes of stack a displaced copy-stack coroutine keeps."""
        return _int(self.value, "saved_len")

    def stack_used(self):
        if self.copy_stack():
            return self.saved_bytes()
        lo, hi, _ = self.stack()
        if self.is_current():
            sp = _thread_sp(self.gdb_thread)
        elif self.started():
            sp = self.saved_sp()
        else:
            return 0
        return hi - sp if sp and lo < sp <= hi else 0

    def group(self):
        g = self._cold_field("group")
        return _addr(g) if g is not None else 0

    def describe(self):
        st = STATE_NAMES[self.state] if 0 <= self.state < len(STATE_NAMES) else "?"
        what, obj = self.waiting_on()
        if what:
            st += " " + what
            if obj:
                st += " 0x%x" % obj
        dl = self.deadline()
        if dl is not None and self.state == WAITING:
            now = _now()
            st += (" until %s" % _duration(dl - now)) if now is not None else (" until %.3fs" % (dl / 1e9))
        if self.sched & S_CANCELLED:
            st += " cancelled"
        return st


class Thread(object):
    def __init__(self, tls, gdb_thread):
        self.tls = tls  # gdb.Value, struct coro__tls
        self.gdb_thread = gdb_thread
        self.coroutines = []
        self.damage = None  # a message if the list could not be read to its end


def _now():
    """CLOCK_MONOTONIC of the inferior, in ns: the host's for a process on this
    machine (native, or qemu's gdbstub here); unknown for a core file."""
    inf = gdb.selected_inferior()
    conn = getattr(inf, "connection", None)
    kind = getattr(conn, "type", None) if conn is not None else None
    if kind in ("native", "remote", "extended-remote"):
        return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e9)
    return None


def _thread_sp(gdb_thread):
    if gdb_thread is None:
        return 0
    old = gdb.selected_thread()
    try:
        gdb_thread.switch()
        return int(gdb.newest_frame().read_register("sp"))
    except gdb.error:
        return 0
    finally:
        if old is not None and old.is_valid():
            old.switch()


def _lookup_registry():
    """The value of coro__threads, or a CoroError saying what is missing."""
    if not gdb.selected_inferior().threads():
        raise CoroError("libcoro: the program is not running and no core file is loaded.")
    sym = gdb.lookup_global_symbol("coro__threads")
    if sym is None:
        try:
            sym = gdb.lookup_static_symbol("coro__threads")
        except (AttributeError, gdb.error):
            sym = None
    if sym is not None:
        try:
            gdb.lookup_type("struct coro")
            gdb.lookup_type("struct coro__tls")
        except gdb.error:
            raise CoroError(
                "libcoro: its debug info is incomplete: struct coro is unknown."
            )
        return sym.value()
    # No debug symbol: is libcoro there at all (a minimal symbol)?
    try:
        gdb.parse_and_eval("&coro__threads")
        found = True
    except gdb.error as e:
        found = "unknown type" in str(e) or "has unknown type" in str(e)
    if found:
        raise CoroError(
            "libcoro: found libcoro (symbol coro__threads) but not its debug info: "
            "the types struct coro and struct coro__tls are missing.  Build libcoro "
            "with -g (its CMake build does, whatever the build type) and do not strip "
            "it, or install its debug symbols."
        )
    raise CoroError(
        "libcoro: no libcoro in this program (no symbol coro__threads in any loaded "
        "object file; a libcoro older than this script has no registry either)."
    )


def _gdb_threads():
    """Kernel thread id -> gdb.InferiorThread."""
    out = {}
    for th in gdb.selected_inferior().threads():
        pid, lwp, tid = th.ptid
        out[lwp or tid or pid] = th
    return out


def read_all():
    """Every libcoro thread with its coroutines."""
    head = _lookup_registry()
    threads = []
    by_tid = _gdb_threads()
    seen = set()
    t = head
    for _ in range(MAX_THREADS):
        if int(t) == 0:
            break
        a = _addr(t)
        if a in seen:
            raise CoroError("libcoro: the thread registry coro__threads is damaged (a cycle at 0x%x)." % a)
        seen.add(a)
        try:
            tls = t.dereference()
            tls.fetch_lazy()
            tid = _int(tls, "tid")
        except gdb.error:
            raise CoroError(
                "libcoro: the thread registry coro__threads is damaged: entry 0x%x is not readable." % a
            )
        th = Thread(tls, by_tid.get(tid))
        _read_list(th)
        th.coroutines.sort(key=lambda c: c.id)
        threads.append(th)
        t = tls["thread_next"]
    threads.sort(key=lambda th: th.gdb_thread.num if th.gdb_thread is not None else 1 << 30)
    return threads


def _read_list(th):
    tls = th.tls
    tls_addr = _addr(tls.address)
    try:
        nall = _int(tls, "nall")
        c = tls["all"]
    except gdb.error as e:
        th.damage = "cannot read the thread's state at 0x%x (%s)" % (tls_addr, e)
        return
    prev = 0
    seen = set()
    for _ in range(MAX_COROUTINES):
        if int(c) == 0:
            break
        a = _addr(c)
        where = "entry %d of the list (0x%x)" % (len(th.coroutines) + 1, a)
        if a in seen:
            th.damage = "%s was listed already: the list has a cycle" % where
            return
        seen.add(a)
        v = c.dereference()
        try:
            v.fetch_lazy()
        except gdb.error:
            th.damage = "%s is not readable memory (freed and unmapped while listed?)" % where
            return
        try:
            if _int(v, "id", 1) == 0 and _addr(v["owner"]) == 0 and int(v["state"]) == 0:
                th.damage = (
                    "%s reads as zeros: its memory is missing from this core file (gdb's gcore "
                    "cannot read a slab of stacks guarded by MADV_GUARD_INSTALL; use the kernel's "
                    "core dump, or run with CORO_STACK_GUARD=mprotect)" % where)
                return
            if _int(v, "id", 1) == 0:
                th.damage = "%s was destroyed but is still listed (its id is 0): a use after free" % where
                return
            if _addr(v["owner"]) != tls_addr:
                th.damage = "%s belongs to another thread or is not a coroutine (owner 0x%x)" % (
                    where, _addr(v["owner"]))
                return
            if _addr(v["all_prev"]) != prev:
                th.damage = "%s has a broken back link (all_prev 0x%x, expected 0x%x)" % (
                    where, _addr(v["all_prev"]), prev)
                return
            if not 0 <= int(v["state"]) <= CLOSED:
                th.damage = "%s has an impossible state %d" % (where, int(v["state"]))
                return
            th.coroutines.append(Coroutine(v, tls, th, th.gdb_thread))
        except gdb.error as e:
            th.damage = "%s cannot be read (%s)" % (where, e)
            return
        prev = a
        c = v["all_next"]
    if len(th.coroutines) != nall:
        th.damage = "the thread counts %d coroutines (nall) but its list holds %d" % (
            nall, len(th.coroutines))


def _thread_label(th):
    return str(th.gdb_thread.num) if th.gdb_thread is not None else "?"


def _damage_message(th):
    return "libcoro: the coroutine list of thread %s (coro__tls 0x%x) is damaged: %s." % (
        _thread_label(th), _addr(th.tls.address), th.damage)


def find(arg, threads=None):
    """The coroutine an id (decimal) or an address (0x..., or an expression)
    names, among the listed ones."""
    arg = arg.strip()
    if threads is None:
        threads = read_all()
    every = [c for th in threads for c in th.coroutines]
    damaged = [th for th in threads if th.damage]
    hint = (" (and the list of thread %s is damaged: not every coroutine could be read)"
            % _thread_label(damaged[0])) if damaged else ""
    if re.match(r"^[0-9]+$", arg):
        n = int(arg)
        for c in every:
            if c.id == n:
                return c
        raise CoroError(
            "libcoro: no live coroutine has id %d: it never existed or it has been "
            "destroyed since (see `info coroutines`)%s." % (n, hint))
    try:
        addr = int(gdb.parse_and_eval(arg).cast(gdb.lookup_type("unsigned long")))
    except gdb.error:
        raise CoroError("libcoro: '%s' is not a coroutine id (a number from `info coroutines`) "
                        "or a coroutine's address." % arg)
    for c in every:
        if c.address == addr:
            return c
    raise CoroError("libcoro: 0x%x is not a live coroutine (destroyed, or not a coroutine)%s." % (addr, hint))


# --- unwinding from a saved context ----------------------------------------------


class _FrameId(object):
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class SavedContextUnwinder(gdb.unwinder.Unwinder):
    """While `target` is set, the selected thread's innermost frame unwinds to
    the saved registers of a suspended coroutine (a dict name -> int)."""

    def __init__(self):
        super(SavedContextUnwinder, self).__init__("libcoro")
        self.target = None  # (global thread number, {reg: value}, frame id sp)

    def __call__(self, pending_frame):
        if self.target is None or pending_frame.level() != 0:
            return None
        th = gdb.selected_thread()
        num, regs, sp = self.target
        if th is None or th.global_num != num:
            return None
        pc = pending_frame.read_register("pc")
        # The frame's id carries the coroutine's stack pointer, not the
        # thread's: gdb stops a backtrace whose caller looks "inner" to its
        # callee, and the coroutine's stack may lie anywhere in memory.
        info = pending_frame.create_unwind_info(_FrameId(gdb.Value(sp).cast(pc.type), pc))
        for name, value in regs.items():
            old = pending_frame.read_register(name)
            info.add_saved_register(name, gdb.Value(value).cast(old.type))
        return info


_unwinder = SavedContextUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)
_selected = None  # the coroutine `coroutine ID frame N` left selected


def _read_words(addr, n):
    inf = gdb.selected_inferior()
    data = bytes(inf.read_memory(addr, 8 * n))
    order = "little" if gdb.execute("show endian", to_string=True).find("big") < 0 else "big"
    return [int.from_bytes(data[i * 8:i * 8 + 8], order) for i in range(n)]


def saved_registers(c):
    """{register: value} of the caller of c's pending switch, and the saved sp."""
    arch = gdb.selected_inferior().architecture().name()
    ctx = c.value["ctx"]
    uc = _field(ctx, "uc")
    if uc is not None:  # ucontext: swapcontext() saved them all
        mc = uc["uc_mcontext"]
        if "x86-64" in arch:
            g = mc["gregs"]
            names = {"r12": 4, "r13": 5, "r14": 6, "r15": 7, "rbp": 10, "rbx": 11, "rsp": 15, "rip": 16}
            regs = dict((n, int(g[i]) & 0xFFFFFFFFFFFFFFFF) for n, i in names.items())
            return regs, regs["rsp"]
        if "aarch64" in arch:
            r = mc["regs"]
            regs = dict(("x%d" % i, int(r[i])) for i in range(19, 31))
            regs["sp"] = int(mc["sp"])
            regs["pc"] = int(mc["pc"])
            return regs, regs["sp"]
        raise CoroError("libcoro: backtraces of ucontext coroutines on %s are not supported." % arch)
    sp = _addr(ctx["sp"])
    if "x86-64" in arch:
        # switch_x86_64.S: [sp] MXCSR|x87 CW, r15 r14 r13 r12 rbx rbp, return address.
        w = _read_words(sp, 8)
        return {"r15": w[1], "r14": w[2], "r13": w[3], "r12": w[4], "rbx": w[5], "rbp": w[6],
                "rip": w[7], "rsp": sp + 64}, sp
    if "aarch64" in arch:
        # switch_aarch64.S: [sp] x19..x28, x29 x30, d8..d15, fpcr (176 bytes).
        w = _read_words(sp, 12)
        regs = dict(("x%d" % (19 + i), w[i]) for i in range(12))
        regs["pc"] = w[11]
        regs["sp"] = sp + 176
        return regs, sp
    raise CoroError("libcoro: backtraces on %s are not supported (x86_64 and aarch64 are)." % arch)


def _activate(c):
    """Make the selected thread's backtrace continue into c's saved context."""
    if c.copy_stack():
        raise CoroError(
            "libcoro: coroutine %d (%s) is a copy-stack coroutine displaced from its "
            "thread's shared stack: its %d bytes of frames are saved in a heap buffer until "
            "it runs again, so its backtrace cannot be shown (the one of its thread's "
            "occupant can)." % (c.id, c.name or "-", c.saved_bytes()))
    lo, hi, _ = c.stack()
    sp = c.saved_sp()
    if not lo < sp <= hi:
        raise CoroError(
            "libcoro: coroutine %d's saved stack pointer 0x%x is outside its stack "
            "[0x%x, 0x%x): its context is damaged." % (c.id, sp, lo, hi))
    try:
        regs, frame_sp = saved_registers(c)
    except gdb.error as e:
        raise CoroError("libcoro: cannot read coroutine %d's saved context: %s." % (c.id, e))
    th = gdb.selected_thread()
    _unwinder.target = (th.global_num, regs, frame_sp)
    gdb.invalidate_cached_frames()


def _deactivate(*_):
    global _selected
    if _unwinder.target is not None:
        _unwinder.target = None
        _selected = None
        gdb.invalidate_cached_frames()


gdb.events.cont.connect(_deactivate)
gdb.events.exited.connect(_deactivate)


_FRAME_LINE = re.compile(r"^#(\d+)(\s+)")
_STACK_LEVEL = re.compile(r"^Stack level (\d+)")


def _renumber(text):
    """gdb's output with the thread's own frame 0 dropped and the coroutine's
    frames numbered from 0."""
    out = []
    skipping = False
    for line in text.splitlines(True):
        m = _FRAME_LINE.match(line)
        if m:
            n = int(m.group(1))
            skipping = n == 0
            if skipping:
                continue
            num = "#%d" % (n - 1)
            pad = m.group(2)
            if len(num) < len(m.group(0)) - len(pad):
                pad += " "
            line = num + pad + line[m.end():]
        elif skipping:
            continue
        else:
            line = _STACK_LEVEL.sub(lambda mm: "Stack level %d" % (int(mm.group(1)) - 1), line)
        out.append(line)
    return "".join(out)


_BT = re.compile(r"^\s*(bt|backtrace|where)\b(.*)$")
_FRAME = re.compile(r"^\s*(f|frame)(\s+(\d+))?\s*$")


def _adjust_bt_args(args):
    """`bt N` counts frames from the innermost: one more for the hidden frame 0."""
    out = []
    for a in args.split():
        if re.match(r"^[0-9]+$", a):
            a = str(int(a) + 1)
        out.append(a)
    return " ".join(out)


def _select_level(n):
    f = gdb.newest_frame()
    for _ in range(n):
        older = f.older()
        if older is None:
            raise CoroError("libcoro: the coroutine has no frame %d." % (n - 1))
        f = older
    f.select()


def run_in(c, cmd, keep=False):
    """Run gdb command `cmd` in coroutine c's context; returns its output."""
    global _selected
    cmd = cmd.strip() or "bt"
    if c.is_current():
        # Running now: its frames are its thread's own.
        if c.gdb_thread is None:
            raise CoroError("libcoro: coroutine %d runs on a thread gdb does not know." % c.id)
        old = gdb.selected_thread()
        c.gdb_thread.switch()
        try:
            return gdb.execute(cmd, to_string=True)
        finally:
            if not keep and old is not None and old.is_valid():
                old.switch()
    if c.raw_state == CLOSED:
        raise CoroError("libcoro: coroutine %d (%s) has finished: it has no frames." % (c.id, c.name or "-"))
    if not c.started():
        fn = _field(c.value, "fn")
        body = fn.format_string(symbols=True) if fn is not None else "?"
        raise CoroError("libcoro: coroutine %d (%s) has not started: no frames yet (its body is %s)."
                        % (c.id, c.name or "-", body))
    _deactivate()
    _activate(c)
    ok = False
    try:
        m = _BT.match(cmd)
        fm = _FRAME.match(cmd)
        if m:
            cmd = "%s %s" % (m.group(1), _adjust_bt_args(m.group(2)))
        elif fm:
            # Select it without gdb's own print (which bypasses to_string),
            # then print it.
            _select_level(int(fm.group(3) or 0) + 1)
            cmd = "frame"
        else:
            _select_level(1)
        try:
            text = gdb.execute(cmd, to_string=True)
        except gdb.error as e:
            raise CoroError(str(e))
        ok = True
        if keep:
            _selected = c
        return _renumber(text)
    finally:
        if not (ok and keep):
            _deactivate()


# --- commands ---------------------------------------------------------------------


def _guard(fn):
    """Run a command body: a CoroError or a gdb error becomes gdb's own error
    message, anything else a one-line internal error, never a traceback."""
    try:
        fn()
    except CoroError as e:
        raise gdb.GdbError(str(e))
    except gdb.GdbError:
        raise
    except gdb.MemoryError as e:
        raise gdb.GdbError("libcoro: cannot read the inferior's memory: %s." % e)
    except gdb.error as e:
        raise gdb.GdbError("libcoro: %s" % e)
    except Exception as e:  # a bug of this script: say so in one line
        raise gdb.GdbError("libcoro-gdb.py: internal error: %s: %s (please report it)"
                           % (type(e).__name__, e))


def _stack_column(c, size):
    """used/size; a copy-stack coroutine says where its frames are: on the
    shared stack (its thread's occupant) or saved in its heap buffer."""
    if c.copy_stack():
        return "%s saved" % _human(c.saved_bytes())
    used = "%s/%s" % (_human(c.stack_used()), _human(size))
    return used + " shared" if c.is_copy() else used


class InfoCoroutines(gdb.Command):
    """List the live coroutines of every thread: info coroutines [ID...]

One line each: its id (what the `coroutine` command takes), the gdb thread it
belongs to, its name, whether it is a micro-thread (mt) or a generator (gen),
its state (CREATED, RUNNING, SUSPENDED, NORMAL, CLOSED, or WAITING and on what:
sleep, chan recv/send, select, join, mutex, cond, fd read/write, group...,
with its deadline relative to now, or absolute for a core file), its stack
used / size, and its group.  `*` marks the coroutine each thread runs now."""

    def __init__(self):
        super(InfoCoroutines, self).__init__("info coroutines", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        _guard(lambda: self._invoke(arg))

    def _invoke(self, arg):
        threads = read_all()
        wanted = None
        if arg.strip():
            wanted = set(find(a, threads).address for a in arg.split())
        rows = []
        for th in threads:
            for c in th.coroutines:
                if wanted is not None and c.address not in wanted:
                    continue
                _, _, size = c.stack()
                g = c.group()
                rows.append(("*" if c.is_current() else " ", str(c.id), _thread_label(th),
                             c.name or "-", "mt" if c.micro_thread() else "gen", c.describe(),
                             _stack_column(c, size),
                             "0x%x" % g if g else "-", "0x%x" % c.address))
        if not rows and not any(th.damage for th in threads):
            gdb.write("No coroutines.\n")
            return
        if rows:
            head = (" ", "Id", "Thread", "Name", "Kind", "State", "Stack", "Group", "Address")
            widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
            for r in [head] + rows:
                gdb.write(("%s %-*s %-*s %-*s %-*s %-*s %*s %-*s %s\n" % (
                    r[0], widths[1], r[1], widths[2], r[2], widths[3], r[3], widths[4], r[4],
                    widths[5], r[5], widths[6], r[6], widths[7], r[7], r[8])).rstrip() + "\n")
        for th in threads:
            if th.damage:
                gdb.write(_damage_message(th) + "\n")


class CoroutineCommand(gdb.Command):
    """Look at one coroutine: coroutine ID [CMD...]

ID is a coroutine's id from `info coroutines` or its address.  CMD is any gdb
command, run in that coroutine's context; the default is `bt`:
  coroutine 7 bt           its backtrace (any `bt` options: bt full, bt 3 ...)
  coroutine 7 frame 2      select its frame 2: then `info locals`, `print`,
                           `up`/`down` see the coroutine's frames (gdb numbers
                           them one higher until `coroutine none` or the
                           program resumes: frame 0 stays the thread's own)
  coroutine 7 info locals  run a command in its innermost frame
  coroutine none           back to the thread's own frames
A suspended coroutine is unwound from its saved registers, on a live process
and on a core file alike; a running one is its thread's own stack."""

    def __init__(self):
        super(CoroutineCommand, self).__init__("coroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)

    def invoke(self, arg, from_tty):
        _guard(lambda: self._invoke(arg))

    def _invoke(self, arg):
        args = arg.strip()
        if not args:
            if _selected is not None:
                gdb.write("Coroutine %d (%s) is selected.\n" % (_selected.id, _selected.name or "-"))
                return
            raise CoroError("libcoro: usage: coroutine ID [CMD...] (ID from `info coroutines`), "
                            "coroutine apply all|ID... CMD, coroutine none.")
        if args in ("none", "reset"):
            _deactivate()
            return
        parts = args.split(None, 1)
        c = find(parts[0])
        cmd = parts[1] if len(parts) > 1 else "bt"
        keep = bool(_FRAME.match(cmd))
        gdb.write(run_in(c, cmd, keep=keep))


class CoroutineApply(gdb.Command):
    """Run a command in several coroutines: coroutine apply all|ID... CMD

  coroutine apply all bt     every live coroutine's backtrace
  coroutine apply 3 7 bt 2   the two innermost frames of coroutines 3 and 7
Coroutines that have no frames (CREATED, CLOSED) say so and are skipped."""

    def __init__(self):
        super(CoroutineApply, self).__init__("coroutine apply", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        _guard(lambda: self._invoke(arg))

    def _invoke(self, arg):
        words = arg.split()
        if not words:
            raise CoroError("libcoro: usage: coroutine apply all|ID... CMD")
        threads = read_all()
        if words[0] == "all":
            targets = [c for th in threads for c in th.coroutines]
            rest = words[1:]
            if not targets and not any(th.damage for th in threads):
                gdb.write("No coroutines.\n")
                return
        else:
            targets = []
            rest = words
            while rest and (re.match(r"^[0-9]+$", rest[0]) or rest[0].startswith("0x")):
                targets.append(find(rest.pop(0), threads))
            if not targets:
                raise CoroError("libcoro: usage: coroutine apply all|ID... CMD")
        cmd = " ".join(rest) or "bt"
        for c in targets:
            gdb.write("\nCoroutine %d \"%s\" (%s, thread %s):\n" % (
                c.id, c.name or "-", c.describe(), _thread_label(c.thread)))
            try:
                gdb.write(run_in(c, cmd))
            except CoroError as e:
                gdb.write("%s\n" % e)
        for th in threads:
            if th.damage:
                gdb.write(_damage_message(th) + "\n")


InfoCoroutines()
CoroutineCommand()
CoroutineApply()
