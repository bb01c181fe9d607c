#!/usr/bin/python3
# Plays systemd's part for SystemdTest, without booting systemd (the real one: scripts/systemd-test.sh):
#   pass SPECS -- CMD...   makes the sockets SPECS describes, puts them at descriptors 3.., sets LISTEN_PID
#                          (this process, which then execs CMD: the same pid), LISTEN_FDS, LISTEN_FDNAMES
#                          and execs CMD. SPECS: comma-separated KIND:PORT[:noreuse], KIND tcp|udp|tcp-unlistened|
#                          file; ":other-pid" as the last SPECS item sets LISTEN_PID to our parent instead.
#   store PORT -- CMD...   a file-descriptor store: binds an abstract notify socket, runs CMD with NOTIFY_SOCKET,
#                          keeps every FDSTORE=1 descriptor, kill -9s the process, connects a client while no
#                          process runs, starts CMD again with the stored descriptors (LISTEN_FDS/FDNAMES) and
#                          prints who answered. Lines "SIM ..." are its findings.
import os, socket, subprocess, sys, time, array

def make(spec):
    kind, port, *flags = spec.split(":")
    if kind == "file":
        return os.open("/dev/null", os.O_RDONLY)
    t = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    s = socket.socket(socket.AF_INET, t)
    if "noreuse" not in flags:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", int(port)))
    if kind == "tcp":
        s.listen(64)
    return s.detach()

def exec_with(fds, names, cmd, listen_pid=None):
    for i, fd in enumerate(fds):          # fds are above 3 + len(fds) (see below), so no overlap
        os.dup2(fd, 3 + i, inheritable=True)
    for fd in fds:
        if fd >= 3 + len(fds):
            os.close(fd)
    env = dict(os.environ, LISTEN_FDS=str(len(fds)), LISTEN_FDNAMES=":".join(names),
               LISTEN_PID=str(listen_pid or os.getpid()))
    os.execvpe(cmd[0], cmd, env)

def high(fd):                              # moves a descriptor above the range it will be placed in
    h = os.dup(fd) if fd >= 64 else __import__("fcntl").fcntl(fd, __import__("fcntl").F_DUPFD, 64)
    os.close(fd)
    return h

def main():
    sep = sys.argv.index("--")
    mode, args, cmd = sys.argv[1], sys.argv[2:sep], sys.argv[sep + 1:]
    if mode == "pass":
        specs = args[0].split(",")
        other = specs[-1] == "other-pid"
        specs = specs[:-1] if other else specs
        fds = [high(make(s)) for s in specs]
        exec_with(fds, ["sock%d" % i for i in range(len(fds))], cmd, os.getppid() if other else None)
    if mode == "relaunch":                 # internal: the inherited stored fds -> 3.., then exec
        fds = [int(x) for x in args[0].split(",")]
        exec_with(fds, args[1].split(":"), cmd)
    if mode == "store":
        port = int(args[0])
        name = "rp-sim-%d" % os.getpid()
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind("\0" + name)
        ns.settimeout(60)
        store = {}                         # name -> fd (first wins, as systemd dedups the same socket)
        def launch(first):
            env = dict(os.environ, NOTIFY_SOCKET="@" + name)
            if first or not store:
                return subprocess.Popen(cmd, env=env)
            names = list(store)
            fds = [store[n] for n in names]
            return subprocess.Popen([sys.executable, __file__, "relaunch", ",".join(map(str, fds)), ":".join(names),
                                     "--"] + cmd, env=env, pass_fds=fds)
        def until_ready(p):
            t = time.time()
            while time.time() - t < 60:
                data, anc, _, _ = ns.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
                got = []
                for level, typ, cdata in anc:
                    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                        a = array.array("i"); a.frombytes(cdata[: len(cdata) - len(cdata) % 4]); got += list(a)
                kv = dict(l.split("=", 1) for l in data.decode().splitlines() if "=" in l)
                if kv.get("FDSTORE") == "1":
                    n = kv.get("FDNAME", "stored")
                    if n in store:
                        for f in got: os.close(f)
                    else:
                        store[n] = high(got[0])
                if kv.get("FDSTOREREMOVE") == "1":
                    f = store.pop(kv.get("FDNAME"), None)
                    if f is not None: os.close(f)
                if kv.get("READY") == "1":
                    print("SIM ready pid=%d mainpid=%s status=%s stored=%d" % (p.pid, kv.get("MAINPID"), kv.get("STATUS"),
                          len(store)), flush=True)
                    return
            raise SystemExit("SIM no READY=1 in 60 s")
        def ask(timeout=30):
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            r = s.recv(200).decode().strip(); s.close(); return r
        p = launch(True); until_ready(p)
        print("SIM first answer=%s" % ask(), flush=True)
        print("SIM names=%s" % ",".join(sorted(store)), flush=True)
        for round in range(int(os.environ.get("SIM_ROUNDS", "1"))):
            p.kill(); p.wait()             # kill -9: nothing runs now, the stored sockets keep the port
            c = socket.create_connection(("127.0.0.1", port), timeout=30)   # waits in the accept queue
            print("SIM round=%d connected while down" % round, flush=True)
            p = launch(False); until_ready(p)
            r = c.recv(200).decode().strip(); c.close()
            print("SIM round=%d queued answer=%s newpid=%d" % (round, r, p.pid), flush=True)
        p.terminate(); p.wait(30)
        print("SIM done exit=%d" % p.returncode, flush=True)

main()
