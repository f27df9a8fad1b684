#!/usr/bin/env python3
"""Rewrite a little-endian pcapng file as the same blocks in another form (no dependencies).

    pcapng_tool.py big-endian IN OUT        every block with its fields in big-endian order
    pcapng_tool.py tsresol N IN OUT         every interface given if_tsresol = N, ticks kept

Used by scripts/make-pcapng-fixtures.sh for what editcap and mergecap cannot write: a
section in the other byte order, and timestamps that overflow. Handles the blocks those tools
write: section header, interface description, enhanced packet, interface statistics (dropped),
decryption secrets; option values that are numbers are swapped by their known width.
"""

import struct
import sys

SHB, IDB, EPB, ISB, DSB = 0x0A0D0D0A, 1, 6, 5, 0x0A

# Numeric option widths by block type and option code (the rest are strings or bytes).
NUMERIC = {
    IDB: {8: "Q", 14: "q", 10: "I"},  # if_speed, if_tsoffset, if_tzone
    EPB: {2: "I", 4: "Q"},  # epb_flags, epb_dropcount
    SHB: {},
    DSB: {},
}


def blocks(data):
    pos = 0
    while pos < len(data):
        ty, length = struct.unpack_from("<II", data, pos)
        yield ty, data[pos + 8 : pos + length - 4]
        pos += length


def options(body):
    """(code, value) pairs of an option list (little-endian)."""
    pos, out = 0, []
    while pos + 4 <= len(body):
        code, length = struct.unpack_from("<HH", body, pos)
        if code == 0:
            break
        out.append((code, body[pos + 4 : pos + 4 + length]))
        pos += 4 + length + (-length % 4)
    return out


def write_options(opts, e, ty):
    out = b""
    for code, value in opts:
        fmt = NUMERIC.get(ty, {}).get(code)
        if fmt and struct.calcsize(fmt) == len(value):
            value = struct.pack(e + fmt, *struct.unpack("<" + fmt, value))
        out += struct.pack(e + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)
    if opts:
        out += struct.pack(e + "HH", 0, 0)
    return out


def block(e, ty, body):
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(e + "II", ty, n) + body + struct.pack(e + "I", n)


def rewrite(data, e, tsresol=None):
    out = b""
    for ty, body in blocks(data):
        if ty == SHB:
            _magic, major, minor, length = struct.unpack_from("<IHHq", body)
            fixed = struct.pack(e + "IHHq", 0x1A2B3C4D, major, minor, length)
            out += block(e, ty, fixed + write_options(options(body[16:]), e, ty))
        elif ty == IDB:
            link, _res, snap = struct.unpack_from("<HHI", body)
            opts = [(c, v) for c, v in options(body[8:]) if not (tsresol is not None and c == 9)]
            if tsresol is not None:
                opts.insert(0, (9, bytes([tsresol])))
            out += block(e, ty, struct.pack(e + "HHI", link, 0, snap) + write_options(opts, e, ty))
        elif ty == EPB:
            iface, hi, lo, cap, orig = struct.unpack_from("<IIIII", body)
            data_end = 20 + cap + (-cap % 4)
            fixed = struct.pack(e + "IIIII", iface, hi, lo, cap, orig) + body[20:data_end]
            out += block(e, ty, fixed + write_options(options(body[data_end:]), e, ty))
        elif ty == DSB:
            kind, n = struct.unpack_from("<II", body)
            out += block(e, ty, struct.pack(e + "II", kind, n) + body[8 : 8 + n])
        # Interface statistics and anything else: dropped.
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "big-endian":
        src, dst = sys.argv[2:4]
        result = rewrite(open(src, "rb").read(), ">")
    elif cmd == "tsresol":
        n, src, dst = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        result = rewrite(open(src, "rb").read(), "<", tsresol=n)
    else:
        sys.exit(__doc__)
    open(dst, "wb").write(result)


if __name__ == "__main__":
    main()
