#!/usr/bin/env python3
"""Write an OCI image layout directory for tests.

    make-layout.py OUT --preset simple [--tag TAG]
    make-layout.py OUT --preset multilayer
    make-layout.py OUT --preset multiplatform
    make-layout.py OUT --preset traversal
    make-layout.py OUT --preset big --size-mb N --layers K

OUT gets oci-layout, index.json and blobs/sha256/<hex>. index.json names
the image with org.opencontainers.image.ref.name=TAG (default "latest"), so
`skopeo copy oci:OUT:TAG ...` finds it. Output is deterministic (fixed
mtimes, owners and gzip headers) except for --preset big, whose data is
seeded and therefore also the same on every run.

Presets:
  simple        one gzip layer: /bin/busybox (from the host's busybox-static)
                with sh, ls, cat, echo, wc, sha256sum linked to it,
                /etc/passwd (root) and /hello.txt; config Env PATH, FOO=bar,
                Cmd ["sh"].
  multilayer    the simple layer; a gzip layer adding /data/a.txt,
                /data/b.txt, /data/keep/x and /gone.txt; an uncompressed
                layer whiting out /data/a.txt and /gone.txt, making
                /data/keep opaque and adding /data/keep/y.
  multiplatform an image index: linux/arm64 (a tiny dummy layer), an
                unknown/unknown attestation-like manifest, and the
                linux/amd64 simple image.
  traversal     the simple layer plus a layer holding '../escape.txt'.
  big           the simple layer plus K layers of incompressible data that
                together hold N MiB.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
REF_NAME = "org.opencontainers.image.ref.name"
MTIME = 1700000000
BUSYBOX_LINKS = ("sh", "ls", "cat", "echo", "wc", "sha256sum")


class Layout:
    def __init__(self, out):
        self.out = out
        self.blobs = os.path.join(out, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)

    def blob(self, data, media_type, **extra):
        """Stores data; returns its descriptor."""
        hexd = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.blobs, hexd), "wb") as f:
            f.write(data)
        desc = {"mediaType": media_type, "digest": "sha256:" + hexd, "size": len(data)}
        desc.update(extra)
        return desc

    def json_blob(self, obj, media_type, **extra):
        data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
        return self.blob(data, media_type, **extra)

    def finish(self, desc, tag):
        desc = dict(desc)
        desc["annotations"] = {REF_NAME: tag}
        with open(os.path.join(self.out, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [desc]}
        with open(os.path.join(self.out, "index.json"), "w") as f:
            json.dump(index, f, indent=1)


class Tar:
    """An uncompressed tar built in memory with fixed metadata."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name, kind, mode):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.mtime = MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    def dir(self, name, mode=0o755):
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, mode))

    def file(self, name, data, mode=0o644):
        ti = self._info(name, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.tar.addfile(ti, io.BytesIO(data))

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.tar.addfile(ti)

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


def gzip_bytes(data, level=6):
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=level) as g:
        g.write(data)
    return out.getvalue()


def add_layer(layout, tar_data, compress=True, level=6):
    """Stores one layer; returns (descriptor, diff_id)."""
    diff_id = "sha256:" + hashlib.sha256(tar_data).hexdigest()
    if compress:
        return layout.blob(gzip_bytes(tar_data, level), MT_LAYER_GZIP), diff_id
    return layout.blob(tar_data, MT_LAYER_TAR), diff_id


def base_tar():
    with open("/bin/busybox", "rb") as f:
        busybox = f.read()
    t = Tar()
    t.dir("bin")
    t.file("bin/busybox", busybox, 0o755)
    for name in BUSYBOX_LINKS:
        t.symlink("bin/" + name, "busybox")
    t.dir("etc")
    t.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    t.dir("root", 0o700)
    t.dir("tmp", 0o1777)
    t.file("hello.txt", b"hello from simple\n")
    return t.bytes()


def image(layout, layers, arch="amd64", cmd=("sh",)):
    """Stores config and manifest for [(descriptor, diff_id)]; returns the
    manifest's descriptor with its platform."""
    config = {
        "architecture": arch,
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {
            "Env": ["PATH=/bin:/usr/bin", "FOO=bar"],
            "Cmd": list(cmd),
            "WorkingDir": "/",
            "User": "",
        },
        "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]},
    }
    config_desc = layout.json_blob(config, MT_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": config_desc,
        "layers": [l for l, _ in layers],
    }
    return layout.json_blob(manifest, MT_MANIFEST,
                            platform={"architecture": arch, "os": "linux"})


def preset_simple(layout, args):
    return image(layout, [add_layer(layout, base_tar())])


def preset_multilayer(layout, args):
    t2 = Tar()
    t2.dir("data")
    t2.file("data/a.txt", b"a\n")
    t2.file("data/b.txt", b"b\n")
    t2.dir("data/keep")
    t2.file("data/keep/x", b"x\n")
    t2.file("gone.txt", b"gone\n")
    t3 = Tar()
    t3.dir("data")
    t3.file("data/.wh.a.txt", b"")
    t3.dir("data/keep")
    t3.file("data/keep/.wh..wh..opq", b"")
    t3.file("data/keep/y", b"y\n")
    t3.file(".wh.gone.txt", b"")
    return image(layout, [add_layer(layout, base_tar()),
                          add_layer(layout, t2.bytes()),
                          add_layer(layout, t3.bytes(), compress=False)])


def preset_multiplatform(layout, args):
    arm = Tar()
    arm.file("arch.txt", b"arm64\n")
    arm_desc = image(layout, [add_layer(layout, arm.bytes())], arch="arm64")
    att = Tar()
    att.file("attestation.json", b"{}\n")
    att_desc = image(layout, [add_layer(layout, att.bytes())], arch="amd64")
    att_desc["platform"] = {"architecture": "unknown", "os": "unknown"}
    att_desc["annotations"] = {"vnd.docker.reference.type": "attestation-manifest"}
    amd_desc = preset_simple(layout, args)
    index = {"schemaVersion": 2, "mediaType": MT_INDEX,
             "manifests": [arm_desc, att_desc, amd_desc]}
    return layout.json_blob(index, MT_INDEX)


def preset_traversal(layout, args):
    evil = Tar()
    evil.file("../escape.txt", b"escaped\n")
    return image(layout, [add_layer(layout, base_tar()),
                          add_layer(layout, evil.bytes())])


def preset_big(layout, args):
    rng = random.Random(args.size_mb * 1000 + args.layers)
    total = args.size_mb * 1024 * 1024
    layers = [add_layer(layout, base_tar())]
    for i in range(args.layers):
        size = total // args.layers + (1 if i < total % args.layers else 0)
        t = Tar()
        t.file("big-%d.bin" % i, rng.randbytes(size))
        layers.append(add_layer(layout, t.bytes(), level=1))
    return image(layout, layers)


PRESETS = {
    "simple": preset_simple,
    "multilayer": preset_multilayer,
    "multiplatform": preset_multiplatform,
    "traversal": preset_traversal,
    "big": preset_big,
}


def main():
    p = argparse.ArgumentParser(description="Write an OCI image layout for tests.")
    p.add_argument("out")
    p.add_argument("--preset", required=True, choices=sorted(PRESETS))
    p.add_argument("--tag", default="latest")
    p.add_argument("--size-mb", type=int, default=16)
    p.add_argument("--layers", type=int, default=1)
    args = p.parse_args()
    if args.size_mb < 0 or args.layers < 1:
        p.error("--size-mb must be >= 0 and --layers >= 1")
    layout = Layout(args.out)
    desc = PRESETS[args.preset](layout, args)
    layout.finish(desc, args.tag)
    print(desc["digest"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
