#!/usr/bin/env python3
"""mktar.py - write a tar archive with exactly the entries given, to stdout.

Usage: mktar.py ENTRY...   (pipe into gzip, xz or zstd as needed)

  NAME=@FILE      a regular file NAME holding the contents of FILE
  NAME=zeros:N    a regular file NAME of N zero bytes, streamed (N may be
                  larger than memory or the disk: nothing is stored)
  NAME->TARGET    a symlink NAME pointing at TARGET
  NAME=>TARGET    a hard link NAME to the earlier entry TARGET
  NAME/           a directory NAME

Names are written exactly as given, so archives can hold '..', absolute
paths and links that point anywhere: what a hostile release would contain.
"""

import sys
import tarfile

MTIME = 1700000000
CHUNK = bytes(1 << 20)


def header(name, kind, size=0, link=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.linkname = link
    ti.mtime = MTIME
    ti.mode = 0o755 if kind in (tarfile.DIRTYPE, tarfile.SYMTYPE) else 0o644
    return ti.tobuf(format=tarfile.GNU_FORMAT)


def pad(out, size):
    out.write(bytes((512 - size % 512) % 512))


def main(entries):
    out = sys.stdout.buffer
    for e in entries:
        if "->" in e:
            name, target = e.split("->", 1)
            out.write(header(name, tarfile.SYMTYPE, link=target))
        elif "=>" in e:
            name, target = e.split("=>", 1)
            out.write(header(name, tarfile.LNKTYPE, link=target))
        elif "=@" in e:
            name, path = e.split("=@", 1)
            with open(path, "rb") as f:
                data = f.read()
            out.write(header(name, tarfile.REGTYPE, size=len(data)))
            out.write(data)
            pad(out, len(data))
        elif "=zeros:" in e:
            name, size = e.split("=zeros:", 1)
            size = int(size)
            out.write(header(name, tarfile.REGTYPE, size=size))
            left = size
            while left:
                n = min(left, len(CHUNK))
                out.write(CHUNK if n == len(CHUNK) else CHUNK[:n])
                left -= n
            pad(out, size)
        elif e.endswith("/"):
            out.write(header(e, tarfile.DIRTYPE))
        else:
            sys.exit("mktar.py: cannot parse entry %r" % e)
    out.write(bytes(1024))
    out.flush()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
