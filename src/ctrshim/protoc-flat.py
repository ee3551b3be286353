#!/usr/bin/env python3
"""protoc-flat.py: runs protoc-c on .proto files that import each other by
long paths (github.com/containerd/...) and writes the generated C into one
flat folder, since meson's generated sources cannot live in subfolders.

usage: protoc-flat.py PROTOC_C OUTDIR -I DIR... -- NAME=IMPORT_PATH...

Each NAME.pb-c.c / NAME.pb-c.h is the code of IMPORT_PATH (a path as the
.proto files import it); #include lines naming another listed file are
rewritten to its flat name.
"""
import os
import re
import subprocess
import sys
import tempfile


def main(argv):
    protoc, outdir = argv[1], argv[2]
    rest = argv[3:]
    sep = rest.index('--')
    includes, pairs = rest[:sep], rest[sep + 1:]
    files = dict(p.split('=', 1) for p in pairs)
    stem = {path[:-len('.proto')]: name for name, path in files.items()}

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([protoc, *includes, '--c_out=' + tmp, *files.values()], check=True)
        include_re = re.compile(r'#include "(.*)\.pb-c\.h"')

        def rewrite(m):
            name = stem.get(m.group(1))
            if name is None:
                raise SystemExit('generated code includes %s.pb-c.h, which is not listed'
                                 % m.group(1))
            return '#include "%s.pb-c.h"' % name

        for path, name in stem.items():
            for ext in ('.pb-c.c', '.pb-c.h'):
                with open(os.path.join(tmp, path + ext)) as f:
                    text = include_re.sub(rewrite, f.read())
                with open(os.path.join(outdir, name + ext), 'w') as f:
                    f.write(text)


if __name__ == '__main__':
    main(sys.argv)
