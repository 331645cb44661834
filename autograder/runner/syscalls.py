"""The system calls a student process may make: one table, a reason for each group (Linux, x86_64 and aarch64).

The seccomp filter of :mod:`autograder.runner.confine` is default-deny: a call in ``ALLOWED`` runs (some with
their arguments checked, ``CHECKED``), a call in ``REFUSED`` fails with the errno given, and any other call
stops the student process and fails the test in progress with the call's name. The list was derived by
tracing the grading of every assignment's reference solution and template (``python tools/trace_syscalls.py``
prints what they make and what this table lacks); run it again after upgrading Python, NumPy or PyTorch.

Nothing here multiplexes other operations or reaches outside the sandbox: no ``io_uring`` (its operations,
sockets included, would bypass the filter), no ``ptrace``, no other process's memory or descriptors, no
namespaces, mounts, kernel modules, BPF, perf events or keyrings.
"""
from __future__ import annotations

# group -> (why the student process needs it, [names])
ALLOWED: dict[str, tuple[str, list[str]]] = {
    "memory": ("Python's and PyTorch's allocators, NumPy's buffers, loading shared libraries",
               ["brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock", "munlock",
                "membarrier", "get_mempolicy", "set_mempolicy", "mbind", "pkey_alloc", "pkey_free",
                "pkey_mprotect", "map_shadow_stack"]),
    "files": ("imports, reading the submission, writing the scratch folder (Landlock decides which paths)",
              ["read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2",
               "pwritev2", "open", "openat", "openat2", "close", "close_range", "stat", "fstat", "lstat",
               "newfstatat", "statx", "access", "faccessat", "faccessat2", "lseek", "getdents", "getdents64",
               "readlink", "readlinkat", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink",
               "unlinkat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "fcntl",
               "flock", "ftruncate", "truncate", "fsync", "fdatasync", "sync_file_range", "dup", "dup2", "dup3",
               "pipe", "pipe2", "utimensat", "utime", "utimes", "futimesat", "chmod", "fchmod", "fchmodat",
               "fchmodat2", "umask", "statfs", "fstatfs", "fadvise64", "fallocate", "copy_file_range", "sendfile",
               "splice", "tee", "memfd_create", "ioctl", "getxattr", "lgetxattr", "fgetxattr", "listxattr",
               "llistxattr", "flistxattr", "inotify_init1", "inotify_add_watch", "inotify_rm_watch"]),
    "waiting": ("waiting for the wire, sleeping, DataLoader workers and thread pools",
                ["poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
                 "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "timerfd_create", "timerfd_settime",
                 "timerfd_gettime", "futex", "futex_waitv", "set_robust_list", "get_robust_list", "sched_yield",
                 "nanosleep", "clock_nanosleep", "pause"]),
    "processes and threads": ("threads of the math libraries, subprocesses and DataLoader workers (clone is "
                              "checked: no new namespaces), the process's own identity and limits",
                              ["fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
                               "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
                               "getresuid", "getresgid", "getpgrp", "getpgid", "getsid", "setpgid", "setsid",
                               "set_tid_address", "rseq", "sched_getaffinity", "sched_setaffinity",
                               "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
                               "sched_get_priority_max", "sched_get_priority_min", "sched_getattr",
                               "sched_setattr", "getpriority", "setpriority", "prctl", "arch_prctl", "prlimit64",
                               "getrlimit", "setrlimit", "getrusage", "times", "uname", "sysinfo", "capget",
                               "getcpu", "pidfd_open", "ioprio_get"]),
    "signals": ("Python's signal handling, faulthandler, thread cancellation; the sandbox's own processes only "
                "(Landlock scopes or a separate user keep signals in)",
                ["rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
                 "rt_sigpending", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "kill", "tgkill", "tkill",
                 "alarm", "setitimer", "getitimer", "timer_create", "timer_settime", "timer_gettime",
                 "timer_getoverrun", "timer_delete", "signalfd", "signalfd4", "pidfd_send_signal"]),
    "time and randomness": ("clocks for timing and seeds; the kernel's random numbers",
                            ["clock_gettime", "clock_getres", "gettimeofday", "time", "getrandom"]),
    "Unix sockets": ("the wire and multiprocessing's connections (socket and socketpair are checked: Unix "
                     "domain only; Landlock ABI >= 6 or a network namespace keeps abstract ones in)",
                     ["connect", "bind", "listen", "accept", "accept4", "sendto", "recvfrom", "sendmsg", "recvmsg",
                      "sendmmsg", "recvmmsg", "shutdown", "getsockopt", "setsockopt", "getsockname",
                      "getpeername"]),
}
# Allowed after a check of their first argument (see confine.seccomp_filter): socket and socketpair only in
# the Unix domain (else EAFNOSUPPORT), clone without a flag that makes a namespace (else EPERM).
CHECKED = ["socket", "socketpair", "clone"]
# Refused with an errno, the process goes on: calls that libraries try and then do without, and calls an
# attack would use, refused quietly as on a machine without them.
REFUSED: dict[str, str] = {
    "clone3": "ENOSYS",  # glibc falls back to clone, whose flags the filter can read
    **{name: "EPERM" for name in [
        "io_uring_setup", "io_uring_enter", "io_uring_register", "ptrace", "process_vm_readv",
        "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp", "unshare", "setns", "mount", "umount2",
        "pivot_root", "chroot", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
        "reboot", "swapon", "swapoff", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
        "request_key", "acct", "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm", "settimeofday",
        "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "quotactl",
        "quotactl_fd", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
        "fanotify_init", "fanotify_mark", "lookup_dcookie", "seccomp", "landlock_create_ruleset",
        "landlock_add_rule", "landlock_restrict_self", "setuid", "setgid", "setreuid", "setregid", "setresuid",
        "setresgid", "setgroups", "setfsuid", "setfsgid", "capset", "vhangup", "syslog", "mknod", "mknodat",
        "chown", "fchown", "lchown", "fchownat", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
        "lremovexattr", "fremovexattr", "migrate_pages", "move_pages", "io_setup", "io_submit",
        "io_getevents", "io_pgetevents", "io_cancel", "io_destroy", "mq_open", "mq_unlink", "mq_timedsend",
        "mq_timedreceive", "mq_notify", "mq_getsetattr", "msgget", "msgsnd", "msgrcv", "msgctl", "semget",
        "semop", "semtimedop", "semctl", "shmget", "shmat", "shmdt", "shmctl", "remap_file_pages",
        "personality", "modify_ldt", "uselib", "ustat", "sysfs", "_sysctl", "nfsservctl", "vserver",
        "set_mempolicy_home_node", "cachestat", "memfd_secret"]},
}

# name -> (x86_64 number, aarch64 number or None), from the kernel's uapi headers
# (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h).
NUMBERS: dict[str, tuple[int | None, int | None]] = {
    "_sysctl": (156, None), "accept": (43, 202), "accept4": (288, 242), "access": (21, None), "acct": (163, 89),
    "add_key": (248, 217), "adjtimex": (159, 171), "afs_syscall": (183, None), "alarm": (37, None),
    "arch_prctl": (158, None), "bind": (49, 200), "bpf": (321, 280), "brk": (12, 214), "capget": (125, 90),
    "capset": (126, 91), "chdir": (80, 49), "chmod": (90, None), "chown": (92, None), "chroot": (161, 51),
    "clock_adjtime": (305, 266), "clock_getres": (229, 114),
    "clock_gettime": (228, 113), "clock_nanosleep": (230, 115), "clock_settime": (227, 112),
    "clone": (56, 220), "clone3": (435, 435), "close": (3, 57),
    "close_range": (436, 436), "connect": (42, 203), "copy_file_range": (326, 285), "creat": (85, None),
    "create_module": (174, None), "delete_module": (176, 106), "dup": (32, 23), "dup2": (33, None),
    "dup3": (292, 24), "epoll_create": (213, None), "epoll_create1": (291, 20), "epoll_ctl": (233, 21),
    "epoll_ctl_old": (214, None), "epoll_pwait": (281, 22), "epoll_pwait2": (441, 441), "epoll_wait": (232, None),
    "epoll_wait_old": (215, None), "eventfd": (284, None), "eventfd2": (290, 19), "execve": (59, 221),
    "execveat": (322, 281), "exit": (60, 93), "exit_group": (231, 94), "faccessat": (269, 48),
    "faccessat2": (439, 439), "fadvise64": (221, 223), "fallocate": (285, 47), "fanotify_init": (300, 262),
    "fanotify_mark": (301, 263), "fchdir": (81, 50), "fchmod": (91, 52), "fchmodat": (268, 53), "fchown": (93, 55),
    "fchownat": (260, 54), "fcntl": (72, 25), "fdatasync": (75, 83), "fgetxattr": (193, 10),
    "finit_module": (313, 273), "flistxattr": (196, 13), "flock": (73, 32), "fork": (57, None),
    "fremovexattr": (199, 16), "fsconfig": (431, 431), "fsetxattr": (190, 7), "fsmount": (432, 432),
    "fsopen": (430, 430), "fspick": (433, 433), "fstat": (5, 80), "fstatfs": (138, 44), "fsync": (74, 82),
    "ftruncate": (77, 46), "futex": (202, 98), "futex_waitv": (449, 449),
    "futimesat": (261, None), "get_kernel_syms": (177, None), "get_mempolicy": (239, 236),
    "get_robust_list": (274, 100), "get_thread_area": (211, None), "getcpu": (309, 168), "getcwd": (79, 17),
    "getdents": (78, None), "getdents64": (217, 61), "getegid": (108, 177), "geteuid": (107, 175),
    "getgid": (104, 176), "getgroups": (115, 158), "getitimer": (36, 102), "getpeername": (52, 205),
    "getpgid": (121, 155), "getpgrp": (111, None), "getpid": (39, 172), "getpmsg": (181, None),
    "getppid": (110, 173), "getpriority": (140, 141), "getrandom": (318, 278), "getresgid": (120, 150),
    "getresuid": (118, 148), "getrlimit": (97, 163), "getrusage": (98, 165), "getsid": (124, 156),
    "getsockname": (51, 204), "getsockopt": (55, 209), "gettid": (186, 178), "gettimeofday": (96, 169),
    "getuid": (102, 174), "getxattr": (191, 8), "init_module": (175, 105), "inotify_add_watch": (254, 27),
    "inotify_init": (253, None), "inotify_init1": (294, 26), "inotify_rm_watch": (255, 28), "io_cancel": (210, 3),
    "io_destroy": (207, 1), "io_getevents": (208, 4), "io_pgetevents": (333, 292),
    "io_setup": (206, 0), "io_submit": (209, 2), "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427), "io_uring_setup": (425, 425), "ioctl": (16, 29), "ioperm": (173, None),
    "iopl": (172, None), "ioprio_get": (252, 31), "ioprio_set": (251, 30), "kcmp": (312, 272),
    "kexec_file_load": (320, 294), "kexec_load": (246, 104), "keyctl": (250, 219), "kill": (62, 129),
    "landlock_add_rule": (445, 445), "landlock_create_ruleset": (444, 444), "landlock_restrict_self": (446, 446),
    "lchown": (94, None), "lgetxattr": (192, 9), "link": (86, None), "linkat": (265, 37), "listen": (50, 201),
    "listxattr": (194, 11), "llistxattr": (195, 12), "lookup_dcookie": (212, 18), "lremovexattr": (198, 15),
    "lseek": (8, 62), "lsetxattr": (189, 6), "lstat": (6, None), "madvise": (28, 233), "mbind": (237, 235),
    "membarrier": (324, 283), "memfd_create": (319, 279), "memfd_secret": (447, 447), "migrate_pages": (256, 238),
    "mincore": (27, 232), "mkdir": (83, None), "mkdirat": (258, 34), "mknod": (133, None), "mknodat": (259, 33),
    "mlock": (149, 228), "mlock2": (325, 284), "mlockall": (151, 230), "mmap": (9, 222), "modify_ldt": (154, None),
    "mount": (165, 40), "mount_setattr": (442, 442), "move_mount": (429, 429), "move_pages": (279, 239),
    "mprotect": (10, 226), "mq_getsetattr": (245, 185), "mq_notify": (244, 184), "mq_open": (240, 180),
    "mq_timedreceive": (243, 183), "mq_timedsend": (242, 182),
    "mq_unlink": (241, 181), "mremap": (25, 216), "msgctl": (71, 187),
    "msgget": (68, 186), "msgrcv": (70, 188), "msgsnd": (69, 189), "msync": (26, 227), "munlock": (150, 229),
    "munlockall": (152, 231), "munmap": (11, 215), "name_to_handle_at": (303, None), "nanosleep": (35, 101),
    "newfstatat": (262, 79), "nfsservctl": (180, 42), "open": (2, None), "open_by_handle_at": (304, None),
    "open_tree": (428, 428), "openat": (257, 56), "openat2": (437, 437), "pause": (34, None),
    "perf_event_open": (298, 241), "personality": (135, 92), "pidfd_getfd": (438, 438), "pidfd_open": (434, 434),
    "pidfd_send_signal": (424, 424), "pipe": (22, None), "pipe2": (293, 59), "pivot_root": (155, 41),
    "pkey_alloc": (330, 289), "pkey_free": (331, 290), "pkey_mprotect": (329, 288), "poll": (7, None),
    "ppoll": (271, 73), "prctl": (157, 167), "pread64": (17, 67), "preadv": (295, 69),
    "preadv2": (327, 286), "prlimit64": (302, 261), "process_madvise": (440, 440), "process_mrelease": (448, 448),
    "process_vm_readv": (310, 270), "process_vm_writev": (311, 271), "pselect6": (270, 72),
    "ptrace": (101, 117), "putpmsg": (182, None), "pwrite64": (18, 68),
    "pwritev": (296, 70), "pwritev2": (328, 287), "query_module": (178, None), "quotactl": (179, 60),
    "quotactl_fd": (443, 443), "read": (0, 63), "readahead": (187, 213), "readlink": (89, None),
    "readlinkat": (267, 78), "readv": (19, 65), "reboot": (169, 142), "recvfrom": (45, 207), "recvmmsg": (299, 243),
    "recvmsg": (47, 212), "remap_file_pages": (216, 234), "removexattr": (197, 14),
    "rename": (82, None), "renameat": (264, 38), "renameat2": (316, 276), "request_key": (249, 218),
    "restart_syscall": (219, 128), "rmdir": (84, None), "rseq": (334, 293), "rt_sigaction": (13, 134),
    "rt_sigpending": (127, 136), "rt_sigprocmask": (14, 135), "rt_sigqueueinfo": (129, 138),
    "rt_sigreturn": (15, 139), "rt_sigsuspend": (130, 133), "rt_sigtimedwait": (128, 137),
    "rt_tgsigqueueinfo": (297, 240), "sched_get_priority_max": (146, 125),
    "sched_get_priority_min": (147, 126), "sched_getaffinity": (204, 123), "sched_getattr": (315, 275),
    "sched_getparam": (143, 121), "sched_getscheduler": (145, 120), "sched_rr_get_interval": (148, 127),
    "sched_setaffinity": (203, 122), "sched_setattr": (314, 274),
    "sched_setparam": (142, 118), "sched_setscheduler": (144, 119), "sched_yield": (24, 124), "seccomp": (317, 277),
    "security": (185, None), "select": (23, None), "semctl": (66, 191), "semget": (64, 190), "semop": (65, 193),
    "semtimedop": (220, 192), "sendfile": (40, 71), "sendmmsg": (307, 269),
    "sendmsg": (46, 211), "sendto": (44, 206), "set_mempolicy": (238, 237), "set_mempolicy_home_node": (450, 450),
    "set_robust_list": (273, 99), "set_thread_area": (205, None), "set_tid_address": (218, 96),
    "setdomainname": (171, 162), "setfsgid": (123, 152), "setfsuid": (122, 151), "setgid": (106, 144),
    "setgroups": (116, 159), "sethostname": (170, 161), "setitimer": (38, 103), "setns": (308, 268),
    "setpgid": (109, 154), "setpriority": (141, 140), "setregid": (114, 143), "setresgid": (119, 149),
    "setresuid": (117, 147), "setreuid": (113, 145), "setrlimit": (160, 164), "setsid": (112, 157),
    "setsockopt": (54, 208), "settimeofday": (164, 170), "setuid": (105, 146), "setxattr": (188, 5),
    "shmat": (30, 196), "shmctl": (31, 195), "shmdt": (67, 197), "shmget": (29, 194), "shutdown": (48, 210),
    "sigaltstack": (131, 132), "signalfd": (282, None), "signalfd4": (289, 74), "socket": (41, 198),
    "socketpair": (53, 199), "splice": (275, 76), "stat": (4, None), "statfs": (137, 43), "statx": (332, 291),
    "swapoff": (168, 225), "swapon": (167, 224), "symlink": (88, None), "symlinkat": (266, 36), "sync": (162, 81),
    "sync_file_range": (277, 84), "sync_file_range2": (None, 84), "syncfs": (306, 267), "sysfs": (139, None),
    "sysinfo": (99, 179), "syslog": (103, 116), "tee": (276, 77), "tgkill": (234, 131), "time": (201, None),
    "timer_create": (222, 107), "timer_delete": (226, 111), "timer_getoverrun": (225, 109),
    "timer_gettime": (224, 108), "timer_settime": (223, 110),
    "timerfd_create": (283, 85), "timerfd_gettime": (287, 87),
    "timerfd_settime": (286, 86), "times": (100, 153), "tkill": (200, 130), "truncate": (76, 45), "tuxcall": (184, None), "umask": (95, 166),
    "umount2": (166, 39), "uname": (63, 160), "unlink": (87, None), "unlinkat": (263, 35), "unshare": (272, 97),
    "uselib": (134, None), "userfaultfd": (323, 282), "ustat": (136, None), "utime": (132, None),
    "utimensat": (280, 88), "utimes": (235, None), "vfork": (58, None),
    "vhangup": (153, 58), "vmsplice": (278, 75), "vserver": (236, None), "wait4": (61, 260), "waitid": (247, 95),
    "write": (1, 64), "writev": (20, 66),
    # newer than the headers above (the same number on both architectures)
    "cachestat": (451, 451), "fchmodat2": (452, 452), "map_shadow_stack": (453, 453), "futex_wake": (454, 454),
    "futex_wait": (455, 455), "futex_requeue": (456, 456), "statmount": (457, 457), "listmount": (458, 458),
    "lsm_get_self_attr": (459, 459), "lsm_set_self_attr": (460, 460), "lsm_list_modules": (461, 461),
    "mseal": (462, 462), "setxattrat": (463, 463), "getxattrat": (464, 464), "listxattrat": (465, 465),
    "removexattrat": (466, 466), "open_tree_attr": (467, 467)
}
ARCHITECTURES = ("x86_64", "aarch64")


def number(name: str, machine: str) -> int | None:
    """The number of system call ``name`` on ``machine`` (None where it does not exist)."""
    return NUMBERS.get(name, (None, None))[ARCHITECTURES.index(machine)]


def name_of(nr: int, machine: str) -> str:
    """The name of system call number ``nr`` on ``machine`` (``"system call 999"`` when unknown)."""
    column = ARCHITECTURES.index(machine) if machine in ARCHITECTURES else 0
    for name, numbers in NUMBERS.items():
        if numbers[column] == nr:
            return name
    return f"system call {nr}"


def allowed_names() -> list[str]:
    return sorted({name for _, names in ALLOWED.values() for name in names})
