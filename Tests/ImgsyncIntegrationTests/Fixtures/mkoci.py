"""Writes an OCI image layout from a JSON spec (for pushing with skopeo in tests).

Usage: mkoci.py SPEC.json   → prints a JSON summary (digests) on stdout.
Spec: {"layout": DIR, "images": [{"tag": T, "index": bool, "manifests": [M...]}]}
M: {"platform": {"os","architecture","variant"?}, "annotations": {...}? (on its index entry),
    "config": {"Env","Entrypoint","Cmd","Labels"},
    "layers": [{"files": {path: text}, "random_file": [path, size]?, "tar": PATH?, "compression": "gzip"|"zstd"|"none"}]}
    ("tar" takes a prebuilt uncompressed tar file instead of "files")
"""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile

spec = json.load(open(sys.argv[1]))
root = spec["layout"]
os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
with open(os.path.join(root, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)


def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)


def put_file(path):
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            size += len(b)
    d = h.hexdigest()
    os.rename(path, os.path.join(root, "blobs", "sha256", d))
    return "sha256:" + d, size, d


def layer(l):
    tmp = os.path.join(root, "layer.tmp")
    if "tar" in l:
        # A prebuilt uncompressed tar (crafted whiteouts, hard links, ...), used as is.
        with open(l["tar"], "rb") as src, open(tmp, "wb") as dst:
            dst.write(src.read())
        return finish_layer(l, tmp)
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for path, text in sorted(l.get("files", {}).items()):
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1577836800
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        if "random_file" in l:
            path, size = l["random_file"]
            rnd = os.path.join(root, "random.tmp")
            with open(rnd, "wb") as f:
                left = size
                while left > 0:
                    n = min(left, 1 << 22)
                    f.write(os.urandom(n))
                    left -= n
            info = tar.gettarinfo(rnd, arcname=path)
            info.mtime = 1577836800
            with open(rnd, "rb") as f:
                tar.addfile(info, f)
            os.remove(rnd)
    return finish_layer(l, tmp)


def finish_layer(l, tmp):
    diff_digest, _, _ = put_file_hash(tmp)
    compression = l.get("compression", "gzip")
    if compression == "gzip":
        subprocess.run(["gzip", "-n", "-1", "-f", tmp], check=True)
        tmp += ".gz"
        media = "application/vnd.oci.image.layer.v1.tar+gzip"
    elif compression == "zstd":
        subprocess.run(["zstd", "-q", "-f", "--rm", tmp, "-o", tmp + ".zst"], check=True)
        tmp += ".zst"
        media = "application/vnd.oci.image.layer.v1.tar+zstd"
    else:
        media = "application/vnd.oci.image.layer.v1.tar"
    digest, size, _ = put_file(tmp)
    return {"mediaType": media, "digest": digest, "size": size}, diff_digest


def put_file_hash(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return "sha256:" + h.hexdigest(), None, None


def manifest(m):
    layers, diff_ids = [], []
    for l in m.get("layers", []):
        desc, diff = layer(l)
        layers.append(desc)
        diff_ids.append(diff)
    p = m.get("platform", {"os": "linux", "architecture": "amd64"})
    config = dict(p)
    config["config"] = m.get("config", {})
    config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    cdigest, csize = put(json.dumps(config).encode())
    body = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
            "layers": layers}
    data = json.dumps(body).encode()
    digest, size = put(data)
    entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size, "platform": p}
    if "annotations" in m:
        entry["annotations"] = m["annotations"]
    return entry, \
        {"config": cdigest, "layers": layers, "diff_ids": diff_ids}


entries, summary = [], {}
for image in spec["images"]:
    results = [manifest(m) for m in image["manifests"]]
    if image.get("index"):
        body = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [r[0] for r in results]}
        digest, size = put(json.dumps(body).encode())
        entry = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": size}
    else:
        entry = dict(results[0][0])
        entry.pop("platform", None)
    entry["annotations"] = {"org.opencontainers.image.ref.name": image["tag"]}
    entries.append(entry)
    summary[image["tag"]] = {"digest": entry["digest"], "manifests": [
        dict(r[1], manifest=r[0]["digest"], platform=r[0]["platform"]) for r in results]}
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": entries}, f)
print(json.dumps(summary))
