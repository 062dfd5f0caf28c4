#!/usr/bin/python3
"""Open Inference Protocol v2 conformance run against `guard serve`, with stubs that are not ours.

The client is built at run time from the UPSTREAM protocol files (KServe's grpc_predict_v2.proto
and Triton's grpc_service.proto + model_config.proto, found anywhere under --proto-dir) with
grpc_tools.protoc into a temporary directory, and talks through Python grpcio (Debian's
python3-grpcio), so nothing of this project's proto/ or Java client is involved. The reference
answers come from PyTorch: the same bundle loaded with tools/pyguard, the same Fashion-MNIST test
images, and the detector of the bundle (detector.json + detector.safetensors) scored in PyTorch.

Checks, one line each (PASS/FAIL + detail), then a summary; exit 1 on any FAIL:
  * our proto/ grpc_service.proto against each upstream file, field by field: package, service,
    method signatures, every field number both sides use (name, type, label, oneof) must agree and
    no upstream field of a shared message may be missing unless reserved; additions are NOTE lines;
  * every RPC we serve: ServerLive/Ready, ModelReady, ServerMetadata, ModelMetadata (names,
    datatypes and shapes of DESIGN.md section 7), ModelInfer, ModelStatistics (counts rise),
    RepositoryIndex, RepositoryModelUnload/Load (ModelReady false, then true), with the token;
  * --count test images as FP32 contents, FP32 raw, UINT8 contents, UINT8 raw, BYTES (PNG by PIL)
    contents and raw, in one batch and one by one: logits vs PyTorch (max abs diff <= 1e-4),
    labels, probabilities (softmax of the logits), guard_score / guard_flag vs the detector scored
    in PyTorch, response parameters, requested-output subsets, the request id echoed;
  * malformed requests get the status code of docs/RELIABILITY.md with a message, and the server
    is still live after each;
  * the six core RPCs again through KServe's stubs (a child process: both files define the same
    `inference.*` names, so they cannot share one descriptor pool).

  /usr/bin/python3 bench/oip_conformance.py --proto-dir /work/runs/upstream-proto \\
      --address 127.0.0.1:8500 --model-name oip-guarded --bundle REPO/oip-guarded/1 \\
      --token TOKEN [--plain-model-name oip-plain --plain-bundle REPO/oip-plain/1] [--count 16]
"""

import argparse
import glob
import importlib
import io
import os
import struct
import subprocess
import sys
import tempfile
import uuid

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pyguard import archs, bundle, data, st, triggers  # noqa: E402

LOGIT_TOL = 1e-4      # the brief's bound for FP32/UINT8 against PyTorch
PROB_TOL = 1e-5
SCORE_TOL = 1e-3      # guard_score is a z value: (mean - s) / std with std ~0.1..1
BORDER = 1e-4         # a PyTorch score this close to the threshold may flip either way in float32


class Report:
    """Collects one line per check and the totals."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'PASS' if ok else 'FAIL'} {self.prefix}{name}" + (f": {detail}" if detail else ""), flush=True)
        return ok


# ---------------------------------------------------------------------------------------------
# stubs from the upstream files


def find_proto(root, name):
    hits = sorted(glob.glob(os.path.join(root, "**", name), recursive=True))
    return hits[0] if hits else None


def compile_stubs(proto_path, out_dir):
    """protoc (grpc_tools) the file and its siblings into out_dir; returns (pb2, pb2_grpc) modules."""
    from grpc_tools import protoc
    import pkg_resources  # grpc_tools ships the well-known types there
    include = os.path.dirname(proto_path)
    well_known = pkg_resources.resource_filename("grpc_tools", "_proto")
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(include, "*.proto")))
    rc = protoc.main(["protoc", f"-I{include}", f"-I{well_known}", f"--python_out={out_dir}",
                      f"--grpc_python_out={out_dir}"] + files)
    if rc != 0:
        sys.exit(f"oip_conformance: protoc failed ({rc}) on {include}")
    sys.path.insert(0, out_dir)
    stem = os.path.splitext(os.path.basename(proto_path))[0]
    return importlib.import_module(stem + "_pb2"), importlib.import_module(stem + "_pb2_grpc")


# ---------------------------------------------------------------------------------------------
# PyTorch reference


class Reference:
    """The bundle in PyTorch: logits, and the critical-layer detector's score and verdict."""

    def __init__(self, bundle_dir):
        self.model, self.meta = bundle.read_bundle(bundle_dir)
        self.mean = self.meta["normalize"]["mean"]
        self.std = self.meta["normalize"]["std"]
        self.num_classes = int(self.meta["num_classes"])
        self.input_shape = [int(d) for d in self.meta["input_shape"]]
        self.detector = None
        det = os.path.join(bundle_dir, "detector.json")
        if os.path.exists(det):
            import json
            with open(det, encoding="utf-8") as f:
                self.detector = json.load(f)
            raw = st.load_file(os.path.join(bundle_dir, "detector.safetensors"))
            self.centroids = {k: v.to(torch.float32).flatten() for k, v in raw.items()}

    @torch.no_grad()
    def run(self, x):
        """x float32 [N,C,H,W] in [0,1] -> (logits [N,K], z scores [N] or None, flags [N] or None, border [N])."""
        logits, taps = self.model.forward_taps(archs.normalize(x, self.mean, self.std))
        if self.detector is None:
            return logits, None, None, None
        pred = logits.argmax(1)
        z = torch.empty(x.shape[0], dtype=torch.float64)
        flags = torch.empty(x.shape[0], dtype=torch.bool)
        border = torch.empty(x.shape[0], dtype=torch.bool)
        classes = {c["class"]: c for c in self.detector["classes"]}
        mahalanobis = self.detector.get("score", "cosine-sum") == "mahalanobis"
        for i in range(x.shape[0]):
            c = classes[int(pred[i])]
            cosines = []
            for tap in c["S_taps"]:
                f = taps[tap][i].flatten().to(torch.float64)
                mu = self.centroids[f"centroid.{c['class']}.{tap}"].to(torch.float64)
                nf, nm = f.norm(), mu.norm()
                cosines.append(0.0 if nf == 0 or nm == 0 else float(f @ mu / (nf * nm)))
            if mahalanobis:  # guard calibrate --score mahalanobis: s = -(v - m)' P (v - m)
                d = torch.tensor(cosines, dtype=torch.float64) - torch.tensor(c["cosine_mean"], dtype=torch.float64)
                p = torch.tensor(c["precision"], dtype=torch.float64).view(len(cosines), len(cosines))
                s = -float(d @ p @ d)
            else:
                s = sum(w * v for w, v in zip(c["weights"], cosines))
            z[i] = (c["mean"] - s) / c["std"]
            flags[i] = s < c["threshold"]
            border[i] = abs(s - c["threshold"]) < BORDER
        return logits, z, flags, border


def png_bytes(u8_chw):
    from PIL import Image
    c = u8_chw.shape[0]
    img = Image.fromarray(u8_chw[0] if c == 1 else np.transpose(u8_chw, (1, 2, 0)), mode="L" if c == 1 else "RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# requests and responses


def code_name(e):
    return e.code().name if hasattr(e, "code") else type(e).__name__


def make_request(pb, model, form, u8, request_id=None, mode=None, outputs=None, version=""):
    """One ModelInferRequest carrying the uint8 images u8 [N,C,H,W] in the given wire form."""
    n = u8.shape[0]
    req = pb.ModelInferRequest(model_name=model, model_version=version, id=request_id or "")
    t = req.inputs.add()
    t.name = "input"
    if form.startswith("FP32"):
        t.datatype = "FP32"
        t.shape.extend(u8.shape)
        x = (u8.astype(np.float32) / np.float32(255.0)).reshape(-1)
        if form == "FP32-contents":
            t.contents.fp32_contents.extend(x.tolist())
        else:
            req.raw_input_contents.append(x.astype("<f4").tobytes())
    elif form.startswith("UINT8"):
        t.datatype = "UINT8"
        t.shape.extend(u8.shape)
        if form == "UINT8-contents":
            t.contents.uint_contents.extend(u8.reshape(-1).astype(np.uint32).tolist())
        else:
            req.raw_input_contents.append(u8.astype(np.uint8).tobytes())
    elif form.startswith("BYTES"):
        t.datatype = "BYTES"
        t.shape.append(n)
        pngs = [png_bytes(u8[i]) for i in range(n)]
        if form == "BYTES-contents":
            t.contents.bytes_contents.extend(pngs)
        else:  # Triton's binary BYTES: each element a 4-byte little-endian length, then the bytes
            req.raw_input_contents.append(b"".join(struct.pack("<I", len(p)) + p for p in pngs))
    else:
        raise ValueError(form)
    if mode is not None:
        req.parameters["guard.mode"].string_param = mode
    for name in outputs or []:
        req.outputs.add().name = name
    return req


def decode_outputs(resp):
    """name -> (datatype, shape, numpy values, 'raw'|'contents'), per the protocol's two forms."""
    out = {}
    raw = list(resp.raw_output_contents)
    if raw and len(raw) != len(resp.outputs):
        raise AssertionError(f"{len(raw)} raw_output_contents for {len(resp.outputs)} outputs")
    for i, t in enumerate(resp.outputs):
        shape = list(t.shape)
        if raw:
            if t.HasField("contents"):
                raise AssertionError(f"output {t.name}: contents set although raw_output_contents is used")
            b = raw[i]
            dtype = {"FP32": "<f4", "INT64": "<i8", "BOOL": "u1"}[t.datatype]
            v = np.frombuffer(b, dtype=dtype)
            if t.datatype == "BOOL":
                if not set(np.unique(v).tolist()) <= {0, 1}:
                    raise AssertionError(f"output {t.name}: BOOL bytes other than 0/1")
                v = v.astype(bool)
            form = "raw"
        else:
            c = t.contents
            v = {"FP32": lambda: np.array(c.fp32_contents, dtype=np.float32),
                 "INT64": lambda: np.array(c.int64_contents, dtype=np.int64),
                 "BOOL": lambda: np.array(c.bool_contents, dtype=bool)}[t.datatype]()
            form = "contents"
        if v.size != int(np.prod(shape)):
            raise AssertionError(f"output {t.name}: shape {shape} but {v.size} values")
        out[t.name] = (t.datatype, shape, v.reshape(shape), form)
    return out


def param_value(p):
    which = p.WhichOneof("parameter_choice")
    return which, (getattr(p, which) if which else None)


# ---------------------------------------------------------------------------------------------
# wire compatibility of our proto/ with the upstream files


def descriptor(proto_path):
    """The FileDescriptorProto of one .proto file (protoc --descriptor_set_out, nothing imported)."""
    from grpc_tools import protoc
    from google.protobuf import descriptor_pb2
    with tempfile.TemporaryDirectory(prefix="oip-desc-") as tmp:
        out = os.path.join(tmp, "set.pb")
        rc = protoc.main(["protoc", f"-I{os.path.dirname(proto_path)}", f"--descriptor_set_out={out}",
                          os.path.basename(proto_path)])
        if rc != 0:
            sys.exit(f"oip_conformance: protoc failed ({rc}) on {proto_path}")
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
    return fds.file[-1]


def diff_protos(ours_path, upstream_path, label, report):
    """Field by field: a number both sides use must agree in name, type, label and oneof, and an
    upstream field of a shared message must exist in ours unless ours reserves its number (else FAIL);
    RPCs, messages and fields only one side has otherwise are printed as NOTEs (additive)."""
    from google.protobuf import descriptor_pb2 as dp
    ours, up = descriptor(ours_path), descriptor(upstream_path)

    def messages(fd):
        out = {}

        def walk(d, prefix):
            out[prefix + d.name] = d
            for n in d.nested_type:
                walk(n, prefix + d.name + ".")
        for d in fd.message_type:
            walk(d, "")
        return out

    def fields(d):
        return {f.number: (f.name, dp.FieldDescriptorProto.Type.Name(f.type)[5:].lower(),
                           dp.FieldDescriptorProto.Label.Name(f.label)[6:].lower(), f.type_name or "",
                           d.oneof_decl[f.oneof_index].name if f.HasField("oneof_index") else "") for f in d.field}

    def note(text):
        print(f"NOTE {label}: {text}", flush=True)

    report.check(f"{label} package", ours.package == up.package, f"ours {ours.package}, upstream {up.package}")
    so = {s.name: s for s in ours.service}
    su = {s.name: s for s in up.service}
    for name in sorted(set(so) | set(su)):
        if name not in so or name not in su:
            report.check(f"{label} service {name}", False, "only " + ("ours" if name in so else "upstream"))
            continue
        mo = {m.name: m for m in so[name].method}
        mu = {m.name: m for m in su[name].method}
        for m in sorted(set(mo) | set(mu)):
            if m not in mu:
                note(f"rpc {name}.{m} only in ours")
            elif m not in mo:
                note(f"rpc {name}.{m} only upstream (not served: UNIMPLEMENTED)")
            else:
                a, b = mo[m], mu[m]
                sig = lambda x: (x.input_type, x.output_type, x.client_streaming, x.server_streaming)  # noqa: E731
                report.check(f"{label} rpc {name}.{m}", sig(a) == sig(b), f"{sig(a)}" if sig(a) == sig(b)
                             else f"ours {sig(a)}, upstream {sig(b)}")
    mo, mu = messages(ours), messages(up)
    for name in sorted(set(mo) | set(mu)):
        if name not in mu:
            note(f"message {name} only in ours")
            continue
        if name not in mo:
            note(f"message {name} only upstream")
            continue
        fo, fu = fields(mo[name]), fields(mu[name])
        reserved = {n for r in mo[name].reserved_range for n in range(r.start, r.end)}
        bad = []
        for n in sorted(set(fo) | set(fu)):
            if n in fo and n in fu and fo[n] != fu[n]:
                bad.append(f"#{n} ours {fo[n]} upstream {fu[n]}")
            elif n in fo and n not in fu:
                note(f"{name} field #{n} {fo[n][0]} ({fo[n][1]}) only in ours")
            elif n in fu and n not in fo and n in reserved:
                note(f"{name} field #{n} {fu[n][0]} ({fu[n][1]}) only upstream (reserved in ours: never sent)")
            elif n in fu and n not in fo:
                # a client's field we would silently drop (or a renumbered one): not wire-compatible
                bad.append(f"#{n} {fu[n][0]} ({fu[n][1]}) missing in ours")
        both = sorted(set(fo) & set(fu))
        report.check(f"{label} message {name}", not bad, "; ".join(bad) if bad else f"fields {both} agree")


# ---------------------------------------------------------------------------------------------
# the Triton-stub suite (every RPC we serve)


class Suite:
    def __init__(self, args, pb, grpc_mod, report):
        import grpc
        self.grpc = grpc
        self.args = args
        self.pb = pb
        self.r = report
        opts = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
        self.channel = grpc.insecure_channel(args.address, options=opts)
        self.stub = grpc_mod.GRPCInferenceServiceStub(self.channel)
        self.auth = [("authorization", f"Bearer {args.token}")] if args.token else []
        x, y = data.load_idx_dataset("test", args.data_dir)
        g = torch.Generator().manual_seed(args.seed)
        idx = torch.randperm(x.shape[0], generator=g)[:args.count]
        self.x = x[idx].contiguous()
        self.y = y[idx]
        self.u8 = np.rint(self.x.numpy() * 255.0).astype(np.uint8)

    def call(self, name, req, metadata=None):
        return getattr(self.stub, name)(req, timeout=self.args.timeout, metadata=metadata)

    def expect_error(self, what, rpc, req, code, metadata=None, contains=None):
        try:
            self.call(rpc, req, metadata)
            self.r.check(what, False, f"expected {code}, got OK")
        except self.grpc.RpcError as e:
            msg = e.details() or ""
            ok = e.code().name == code and msg.strip() != "" and (contains is None or contains in msg)
            self.r.check(what, ok, f"{e.code().name} '{msg}'" + ("" if ok else f" (expected {code}"
                                                                      + (f" naming '{contains}'" if contains else "") + ")"))
        self.still_live(what)

    def still_live(self, after):
        try:
            live = self.call("ServerLive", self.pb.ServerLiveRequest()).live
        except self.grpc.RpcError as e:
            live = False
            after += f" ({code_name(e)})"
        if not live:
            self.r.check(f"live after {after}", False, "server not live")
        else:
            self.r.passed += 1  # counted, not printed: one per malformed request

    # -- health and metadata ------------------------------------------------------------------

    def health_and_metadata(self, model, ref):
        pb = self.pb
        self.r.check("ServerLive", self.call("ServerLive", pb.ServerLiveRequest()).live, "live=true")
        self.r.check("ServerReady", self.call("ServerReady", pb.ServerReadyRequest()).ready, "ready=true")
        ready = self.call("ModelReady", pb.ModelReadyRequest(name=model)).ready
        self.r.check(f"ModelReady {model}", ready, "ready=true")
        ready_v = self.call("ModelReady", pb.ModelReadyRequest(name=model, version="1")).ready
        self.r.check(f"ModelReady {model} version 1", ready_v, "ready=true")
        sm = self.call("ServerMetadata", pb.ServerMetadataRequest())
        self.r.check("ServerMetadata", bool(sm.name) and bool(sm.version),
                     f"name={sm.name} version={sm.version} extensions={list(sm.extensions)}")
        md = self.call("ModelMetadata", pb.ModelMetadataRequest(name=model))
        c, h, w = ref.input_shape
        k = ref.num_classes
        want_in = [("input", "FP32", [-1, c, h, w])]
        want_out = [("logits", "FP32", [-1, k]), ("probabilities", "FP32", [-1, k]), ("label", "INT64", [-1]),
                    ("guard_score", "FP32", [-1]), ("guard_flag", "BOOL", [-1])]
        got_in = [(t.name, t.datatype, list(t.shape)) for t in md.inputs]
        got_out = [(t.name, t.datatype, list(t.shape)) for t in md.outputs]
        self.r.check(f"ModelMetadata {model} name/versions/platform",
                     md.name == model and "1" in md.versions and md.platform != "",
                     f"name={md.name} versions={list(md.versions)} platform={md.platform}")
        self.r.check(f"ModelMetadata {model} inputs", got_in == want_in, f"{got_in}")
        self.r.check(f"ModelMetadata {model} outputs", got_out == want_out, f"{got_out}")
        md1 = self.call("ModelMetadata", pb.ModelMetadataRequest(name=model, version="1"))
        self.r.check(f"ModelMetadata {model} version 1", md1 == md, "same answer as without a version")

    # -- inference ------------------------------------------------------------------------------

    def check_response(self, label, resp, model, ref_logits, ref_z, ref_flags, ref_border, guarded, mode,
                       request_id, outputs=None, pred_expect=None):
        """Checks one ModelInferResponse against the PyTorch reference; returns the labels."""
        r = self.r
        try:
            outs = decode_outputs(resp)
        except (AssertionError, KeyError) as e:
            r.check(f"{label} decode", False, str(e))
            return None
        n, k = ref_logits.shape
        names = [t.name for t in resp.outputs]
        want = outputs or ["logits", "probabilities", "label", "guard_score", "guard_flag"]
        ok_meta = (resp.model_name == model and resp.model_version == "1" and resp.id == request_id
                   and sorted(names) == sorted(want) and len(names) == len(want))
        r.check(f"{label} header", ok_meta, f"model={resp.model_name} version={resp.model_version} "
                f"id={resp.id!r} outputs={names}")
        details = []
        ok = True
        shapes = {"logits": ("FP32", [n, k]), "probabilities": ("FP32", [n, k]), "label": ("INT64", [n]),
                  "guard_score": ("FP32", [n]), "guard_flag": ("BOOL", [n])}
        for name, (dt, shape) in shapes.items():
            if name in outs and (outs[name][0], outs[name][1]) != (dt, shape):
                ok = False
                details.append(f"{name} is {outs[name][0]} {outs[name][1]}, expected {dt} {shape}")
        ref = ref_logits.numpy()
        labels = None
        if "logits" in outs:
            diff = float(np.max(np.abs(outs["logits"][2] - ref)))
            ok &= diff <= LOGIT_TOL
            details.append(f"max|logits-torch|={diff:.2e}")
        if "probabilities" in outs:
            p = outs["probabilities"][2].astype(np.float64)
            sm = torch.softmax(ref_logits.to(torch.float64), 1).numpy()
            pd = float(np.max(np.abs(p - sm)))
            sums = float(np.max(np.abs(p.sum(1) - 1.0)))
            ok &= pd <= PROB_TOL and sums <= 1e-5
            details.append(f"max|p-softmax|={pd:.1e}")
        if "label" in outs:
            labels = outs["label"][2]
            expect = ref.argmax(1) if pred_expect is None else pred_expect
            same = bool(np.array_equal(labels, expect))
            ok &= same
            details.append("labels = torch argmax" if same else f"labels {labels.tolist()} != {expect.tolist()}")
        run = guarded and mode != "off"
        if "guard_score" in outs:
            s = outs["guard_score"][2].astype(np.float64)
            if run:
                zd = float(np.max(np.abs(s - ref_z.numpy())))
                ok &= bool(np.all(np.isfinite(s))) and zd <= SCORE_TOL
                details.append(f"max|guard_score-torch z|={zd:.1e}")
            else:
                ok &= bool(np.all(np.isnan(s)))
                details.append("guard_score NaN (guard did not run)")
        flags = None
        if "guard_flag" in outs:
            flags = outs["guard_flag"][2]
            if run:
                mism = [i for i in range(n) if flags[i] != bool(ref_flags[i]) and not bool(ref_border[i])]
                ok &= not mism
                details.append(f"flags = torch detector ({int(flags.sum())} flagged)" if not mism
                               else f"flags differ at items {mism}")
            else:
                ok &= not flags.any()
                details.append("no flags")
        r.check(f"{label} outputs", ok, "; ".join(details))
        # response parameters: only fields every upstream version knows (bool/int64/string)
        params = {key: param_value(v) for key, v in resp.parameters.items()}
        any_flag = bool(ref_flags[~ref_border].any()) if run and ref_flags is not None else False
        p_ok = set(params) == {"guard.suspicious", "guard.detector", "guard.action"}
        p_ok &= all(kind in ("bool_param", "int64_param", "string_param") for kind, _ in params.values())
        if p_ok:
            sus = params["guard.suspicious"]
            det = params["guard.detector"]
            act = params["guard.action"]
            p_ok &= sus[0] == "bool_param" and det[0] == "string_param" and act[0] == "string_param"
            if run:
                flagged = bool(flags.any()) if flags is not None else any_flag
                p_ok &= det[1] != "none" and sus[1] == flagged and act[1] == ("flag" if flagged else "pass")
            else:
                p_ok &= det[1] == "none" and sus[1] is False and act[1] == "pass"
        r.check(f"{label} parameters", p_ok, ", ".join(f"{key}={v[1]!r}" for key, v in sorted(params.items())))
        return labels

    def inference(self, model, ref, guarded):
        pb = self.pb
        n = self.x.shape[0]
        logits, z, flags, border = ref.run(self.x)
        labels_by_form = {}
        for form in ("FP32-contents", "FP32-raw", "UINT8-contents", "UINT8-raw", "BYTES-contents", "BYTES-raw"):
            rid = f"oip-{uuid.uuid4()}"
            req = make_request(pb, model, form, self.u8, request_id=rid)
            try:
                resp = self.call("ModelInfer", req)
            except self.grpc.RpcError as e:
                self.r.check(f"{model} {form} batch of {n}", False, f"{code_name(e)} {e.details()}")
                continue
            raw_form = "raw" in form
            self.r.check(f"{model} {form} batch of {n} answer form", bool(resp.raw_output_contents) == raw_form,
                         "raw_output_contents" if resp.raw_output_contents else "typed contents")
            labels_by_form[form] = self.check_response(f"{model} {form} batch of {n}", resp, model, logits, z, flags,
                                                       border, guarded, None, rid)
            # one by one (single items), every form
            single_ok = True
            worst = 0.0
            for i in range(n):
                rid1 = f"oip-single-{i}"
                try:
                    r1 = self.call("ModelInfer", make_request(pb, model, form, self.u8[i:i + 1], request_id=rid1))
                    o = decode_outputs(r1)
                    d = float(np.max(np.abs(o["logits"][2] - logits[i:i + 1].numpy())))
                    worst = max(worst, d)
                    single_ok &= (r1.id == rid1 and d <= LOGIT_TOL
                                  and int(o["label"][2][0]) == int(logits[i].argmax())
                                  and list(o["logits"][1]) == [1, ref.num_classes])
                    if guarded:
                        single_ok &= (bool(o["guard_flag"][2][0]) == bool(flags[i]) or bool(border[i])) and \
                            abs(float(o["guard_score"][2][0]) - float(z[i])) <= SCORE_TOL
                except (self.grpc.RpcError, AssertionError, KeyError) as e:
                    single_ok = False
                    worst = float("inf")
                    print(f"  item {i}: {code_name(e)} {e}", flush=True)
            self.r.check(f"{model} {form} {n} single requests", single_ok, f"max|logits-torch|={worst:.2e}, ids echoed")
        if "UINT8-raw" in labels_by_form and labels_by_form["UINT8-raw"] is not None:
            for form in ("BYTES-contents", "BYTES-raw"):
                if labels_by_form.get(form) is not None:
                    self.r.check(f"{model} {form} labels = UINT8 labels",
                                 np.array_equal(labels_by_form[form], labels_by_form["UINT8-raw"]))
        # requested-output subsets, in both answer forms
        for form, subset in (("FP32-raw", ["label", "guard_flag"]), ("UINT8-contents", ["probabilities"]),
                             ("FP32-contents", ["guard_score", "logits"])):
            rid = f"oip-subset-{form}"
            resp = self.call("ModelInfer", make_request(pb, model, form, self.u8, request_id=rid, outputs=subset))
            self.check_response(f"{model} {form} outputs {subset}", resp, model, logits, z, flags, border, guarded,
                                None, rid, outputs=subset)
        # explicit version, and guard modes
        rid = "oip-version-1"
        resp = self.call("ModelInfer", make_request(pb, model, "FP32-raw", self.u8, request_id=rid, version="1"))
        self.check_response(f"{model} model_version=1", resp, model, logits, z, flags, border, guarded, None, rid)
        for mode in ("off", "flag"):
            rid = f"oip-mode-{mode}"
            resp = self.call("ModelInfer", make_request(pb, model, "UINT8-raw", self.u8, request_id=rid, mode=mode))
            self.check_response(f"{model} guard.mode={mode}", resp, model, logits, z, flags, border, guarded, mode, rid)
        return logits

    def triggered(self, model, ref):
        """Badnets-triggered images: flags and guard.mode=block, checked against the PyTorch detector."""
        pb = self.pb
        xt = triggers.apply("badnets", self.x)
        u8t = np.rint(xt.numpy() * 255.0).astype(np.uint8)
        logits, z, flags, border = ref.run(torch.from_numpy(u8t.astype(np.float32) / np.float32(255.0)))
        rid = "oip-triggered"
        resp = self.call("ModelInfer", make_request(pb, model, "UINT8-raw", u8t, request_id=rid))
        self.check_response(f"{model} badnets-triggered UINT8-raw", resp, model, logits, z, flags, border, True,
                            None, rid)
        flagged = [i for i in range(len(flags)) if flags[i] and not border[i]]
        clean = [i for i in range(len(flags)) if not flags[i] and not border[i]]
        self.r.check(f"{model} triggered batch exercises the guard", bool(flagged),
                     f"{len(flagged)} of {len(flags)} flagged by the PyTorch detector")
        if flagged:
            self.expect_error(f"{model} guard.mode=block with flagged items -> FAILED_PRECONDITION", "ModelInfer",
                              make_request(pb, model, "UINT8-raw", u8t[flagged[:2]], mode="block"),
                              "FAILED_PRECONDITION", contains="flagged")
        if clean:
            sub = u8t[clean[:2]]
            rid = "oip-block-pass"
            lg, zz, ff, bb = ref.run(torch.from_numpy(sub.astype(np.float32) / np.float32(255.0)))
            resp = self.call("ModelInfer", make_request(pb, model, "UINT8-raw", sub, request_id=rid, mode="block"))
            self.check_response(f"{model} guard.mode=block, nothing flagged", resp, model, lg, zz, ff, bb, True,
                                "block", rid)

    # -- statistics and repository --------------------------------------------------------------

    def stats(self, model):
        resp = self.call("ModelStatistics", self.pb.ModelStatisticsRequest(name=model))
        return resp.model_stats[0] if len(resp.model_stats) == 1 else None

    def statistics_rise(self, model):
        pb = self.pb
        before = self.stats(model)
        self.r.check(f"ModelStatistics {model}", before is not None and before.name == model and before.version == "1",
                     f"name={before.name if before else None} version={before.version if before else None}")
        n = self.x.shape[0]
        self.call("ModelInfer", make_request(pb, model, "UINT8-raw", self.u8))
        self.call("ModelInfer", make_request(pb, model, "FP32-raw", self.u8[:1]))
        after = self.stats(model)
        s0, s1 = before.inference_stats, after.inference_stats
        ok = (after.inference_count - before.inference_count == n + 1
              and after.execution_count > before.execution_count
              and s1.success.count - s0.success.count == 2 and s1.success.ns > s0.success.ns
              and s1.compute_infer.count > s0.compute_infer.count
              and after.last_inference >= before.last_inference and after.last_inference > 0)
        self.r.check(f"ModelStatistics {model} rise after 2 requests ({n + 1} items)", ok,
                     f"inference_count {before.inference_count}->{after.inference_count}, execution_count "
                     f"{before.execution_count}->{after.execution_count}, success {s0.success.count}->"
                     f"{s1.success.count}, last_inference {after.last_inference}")
        fail0 = s1.fail.count
        try:
            self.call("ModelInfer", make_request(pb, model, "UINT8-raw", self.u8[:1], mode="nonsense"))
        except self.grpc.RpcError:
            pass
        fail1 = self.stats(model).inference_stats.fail.count
        self.r.check(f"ModelStatistics {model} fail count rises on a rejected request", fail1 == fail0 + 1,
                     f"fail {fail0}->{fail1}")
        everything = self.call("ModelStatistics", pb.ModelStatisticsRequest())
        names = sorted(m.name for m in everything.model_stats)
        self.r.check("ModelStatistics all models (empty name)", model in names, f"{names}")

    def repository(self, model, ref, logits):
        pb = self.pb
        if not self.args.token:
            self.r.check("repository RPCs", False, "no --token given")
            return
        self.expect_error("RepositoryIndex without the token -> UNAUTHENTICATED", "RepositoryIndex",
                          pb.RepositoryIndexRequest(), "UNAUTHENTICATED")
        self.expect_error("RepositoryModelUnload with a wrong token -> UNAUTHENTICATED", "RepositoryModelUnload",
                          pb.RepositoryModelUnloadRequest(model_name=model), "UNAUTHENTICATED",
                          metadata=[("authorization", "Bearer wrong")])
        index = self.call("RepositoryIndex", pb.RepositoryIndexRequest(), self.auth)
        entries = {m.name: m for m in index.models}
        e = entries.get(model)
        self.r.check("RepositoryIndex lists the model READY", e is not None and e.state == "READY" and e.version == "1",
                     ", ".join(f"{m.name}:{m.version}:{m.state}" for m in index.models))
        ready_only = self.call("RepositoryIndex", pb.RepositoryIndexRequest(ready=True), self.auth)
        self.r.check("RepositoryIndex ready=true", all(m.state == "READY" for m in ready_only.models)
                     and model in [m.name for m in ready_only.models], f"{len(ready_only.models)} entries")
        self.call("RepositoryModelUnload", pb.RepositoryModelUnloadRequest(model_name=model), self.auth)
        self.r.check(f"RepositoryModelUnload {model}", True, "OK")
        ready = self.call("ModelReady", pb.ModelReadyRequest(name=model)).ready
        self.r.check(f"ModelReady {model} after unload", ready is False, f"ready={ready}")
        # As in Triton: a model unloaded on purpose no longer counts for the server's readiness (a
        # Kubernetes readiness probe on it must not take every other model out of service).
        server_ready = self.call("ServerReady", pb.ServerReadyRequest()).ready
        self.r.check(f"ServerReady after unloading {model}", server_ready is True, f"ready={server_ready}")
        idx = {m.name: m for m in self.call("RepositoryIndex", pb.RepositoryIndexRequest(), self.auth).models}
        self.r.check(f"RepositoryIndex after unload", model in idx and idx[model].state != "READY",
                     f"{model}: state={idx[model].state if model in idx else None} "
                     f"reason={idx[model].reason if model in idx else None!r}")
        self.expect_error(f"ModelInfer on unloaded {model} -> UNAVAILABLE", "ModelInfer",
                          make_request(pb, model, "UINT8-raw", self.u8[:1]), "UNAVAILABLE")
        self.call("RepositoryModelLoad", pb.RepositoryModelLoadRequest(model_name=model), self.auth)
        self.r.check(f"RepositoryModelLoad {model}", True, "OK")
        ready = self.call("ModelReady", pb.ModelReadyRequest(name=model)).ready
        self.r.check(f"ModelReady {model} after load", ready is True, f"ready={ready}")
        resp = self.call("ModelInfer", make_request(pb, model, "FP32-raw", self.u8))
        d = float(np.max(np.abs(decode_outputs(resp)["logits"][2] - logits.numpy())))
        self.r.check(f"ModelInfer after reload", d <= LOGIT_TOL, f"max|logits-torch|={d:.2e}")
        self.expect_error("RepositoryModelLoad of an unknown model -> NOT_FOUND", "RepositoryModelLoad",
                          pb.RepositoryModelLoadRequest(model_name="no-such-model"), "NOT_FOUND", metadata=self.auth)

    # -- malformed requests ---------------------------------------------------------------------

    def malformed(self, model, ref):
        pb = self.pb
        good = lambda form="FP32-raw", n=1: make_request(pb, model, form, self.u8[:n])  # noqa: E731
        c, h, w = ref.input_shape

        r = good()
        r.inputs[0].name = "image"
        self.expect_error("wrong input name -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT", contains="name")
        r = good("FP32-contents")
        r.inputs[0].datatype = "FP64"
        self.expect_error("wrong datatype FP64 -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT",
                          contains="datatype")
        r = good("FP32-raw")
        r.inputs[0].datatype = "INT32"
        self.expect_error("wrong datatype INT32 -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT",
                          contains="datatype")
        r = good("FP32-raw")
        del r.inputs[0].shape[:]
        r.inputs[0].shape.extend([1, c, h + 1, w])
        self.expect_error("shape mismatch [1,C,H+1,W] -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT",
                          contains="shape")
        r = good("FP32-raw")
        del r.inputs[0].shape[:]
        r.inputs[0].shape.extend([c * h * w])
        self.expect_error("shape of the wrong rank -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT",
                          contains="shape")
        r = good("FP32-raw", 2)
        r.raw_input_contents[0] = r.raw_input_contents[0][:-4]
        self.expect_error("raw size 4 bytes short -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT",
                          contains="bytes")
        r = good("FP32-contents", 2)
        del r.inputs[0].contents.fp32_contents[-1]
        self.expect_error("contents one value short -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT",
                          contains="fp32_contents")
        r = good("FP32-raw", 2)
        r.inputs[0].shape[0] = 3
        self.expect_error("shape says 3 items, raw holds 2 -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT")
        r = good("FP32-contents")
        r.raw_input_contents.append(np.zeros(c * h * w, dtype="<f4").tobytes())
        self.expect_error("contents and raw_input_contents both -> INVALID_ARGUMENT", "ModelInfer", r,
                          "INVALID_ARGUMENT", contains="both")
        r = good("FP32-contents")
        r.inputs[0].contents.fp32_contents[0] = 1.5
        self.expect_error("FP32 pixel outside [0,1] -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT")
        r = good("UINT8-contents")
        r.inputs[0].contents.uint_contents[0] = 256
        self.expect_error("UINT8 contents value 256 -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT")
        r = pb.ModelInferRequest(model_name=model)
        self.expect_error("no inputs -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT")
        r = good()
        r.model_name = "no-such-model"
        self.expect_error("unknown model -> NOT_FOUND", "ModelInfer", r, "NOT_FOUND", contains="no-such-model")
        r = good()
        r.model_version = "7"
        self.expect_error("unknown version -> NOT_FOUND", "ModelInfer", r, "NOT_FOUND", contains="7")
        self.expect_error("ModelReady of an unknown model -> NOT_FOUND", "ModelReady",
                          pb.ModelReadyRequest(name="no-such-model"), "NOT_FOUND", contains="no-such-model")
        self.expect_error("ModelMetadata of an unknown model -> NOT_FOUND", "ModelMetadata",
                          pb.ModelMetadataRequest(name="no-such-model"), "NOT_FOUND")
        self.expect_error("ModelStatistics of an unknown model -> NOT_FOUND", "ModelStatistics",
                          pb.ModelStatisticsRequest(name="no-such-model"), "NOT_FOUND")
        r = good()
        r.parameters["guard.mode"].string_param = "maybe"
        self.expect_error("guard.mode=maybe -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT",
                          contains="guard.mode")
        r = good()
        r.parameters["guard.mode"].int64_param = 1
        self.expect_error("guard.mode as int64 -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT",
                          contains="guard.mode")
        r = good()
        r.outputs.add().name = "embeddings"
        self.expect_error("unknown requested output -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT",
                          contains="embeddings")
        r = good("BYTES-contents")
        r.inputs[0].contents.bytes_contents[0] = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
        self.expect_error("garbage PNG -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT")
        r = good("BYTES-contents")
        r.inputs[0].contents.bytes_contents[0] = b"not an image at all"
        self.expect_error("bytes that are no image -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT")
        big = np.zeros((c, h + 4, w + 4), dtype=np.uint8)
        r = good("BYTES-contents")
        r.inputs[0].contents.bytes_contents[0] = png_bytes(big)
        self.expect_error(f"PNG of {h + 4}x{w + 4} (no resizing) -> INVALID_ARGUMENT", "ModelInfer", r,
                          "INVALID_ARGUMENT")
        r = good("BYTES-raw")
        r.raw_input_contents[0] = r.raw_input_contents[0][:-10]
        self.expect_error("BYTES raw element truncated -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT")
        too_many = self.args.max_items + 1
        u8 = np.zeros((too_many, c, h, w), dtype=np.uint8)
        r = make_request(pb, model, "UINT8-raw", u8)
        self.expect_error(f"too many items ({too_many}) -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT",
                          contains="limit")
        r = good()
        r.inputs[0].shape[0] = 0
        r.raw_input_contents[0] = b""
        self.expect_error("zero items -> INVALID_ARGUMENT", "ModelInfer", r, "INVALID_ARGUMENT")
        # RPCs of Triton's service that guard serve does not implement: a clean UNIMPLEMENTED
        self.expect_error("ModelConfig (not served) -> UNIMPLEMENTED", "ModelConfig",
                          pb.ModelConfigRequest(name=model), "UNIMPLEMENTED")
        self.expect_error("SystemSharedMemoryStatus (not served) -> UNIMPLEMENTED", "SystemSharedMemoryStatus",
                          pb.SystemSharedMemoryStatusRequest(), "UNIMPLEMENTED")
        try:
            stream = self.stub.ModelStreamInfer(iter([good()]), timeout=self.args.timeout)
            list(stream)
            self.r.check("ModelStreamInfer (not served) -> UNIMPLEMENTED", False, "answered")
        except self.grpc.RpcError as e:
            self.r.check("ModelStreamInfer (not served) -> UNIMPLEMENTED", e.code().name == "UNIMPLEMENTED",
                         f"{e.code().name} '{e.details()}'")
        self.still_live("ModelStreamInfer")
        self.r.check("server live after every malformed request",
                     self.call("ServerLive", pb.ServerLiveRequest()).live, "ServerLive checked after each one")

    def run(self):
        a = self.args
        ref = Reference(a.bundle)
        if ref.detector is None:
            self.r.check(f"{a.model_name} has a detector", False, f"{a.bundle} has no detector.json")
        self.health_and_metadata(a.model_name, ref)
        logits = self.inference(a.model_name, ref, guarded=ref.detector is not None)
        if ref.detector is not None:
            self.triggered(a.model_name, ref)
        if a.plain_model_name:
            plain = Reference(a.plain_bundle)
            self.r.check(f"{a.plain_model_name} has no detector", plain.detector is None)
            self.health_and_metadata(a.plain_model_name, plain)
            self.inference(a.plain_model_name, plain, guarded=False)
            # block needs a flag, and a bundle without a detector never flags: the answer comes back
            lg, _, _, _ = plain.run(self.x)
            resp = self.call("ModelInfer", make_request(self.pb, a.plain_model_name, "UINT8-raw", self.u8,
                                                        request_id="oip-plain-block", mode="block"))
            self.check_response(f"{a.plain_model_name} guard.mode=block without a detector", resp,
                                a.plain_model_name, lg, None, None, None, False, "block", "oip-plain-block")
        self.statistics_rise(a.model_name)
        self.malformed(a.model_name, ref)
        self.repository(a.model_name, ref, logits)


def kserve_suite(args, pb, grpc_mod, report):
    """The six core RPCs through KServe's own stubs."""
    import grpc
    stub = grpc_mod.GRPCInferenceServiceStub(grpc.insecure_channel(args.address))
    t = args.timeout
    r = report
    r.check("ServerLive", stub.ServerLive(pb.ServerLiveRequest(), timeout=t).live)
    r.check("ServerReady", stub.ServerReady(pb.ServerReadyRequest(), timeout=t).ready)
    r.check("ModelReady", stub.ModelReady(pb.ModelReadyRequest(name=args.model_name), timeout=t).ready)
    sm = stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=t)
    r.check("ServerMetadata", bool(sm.name and sm.version), f"{sm.name} {sm.version} {list(sm.extensions)}")
    md = stub.ModelMetadata(pb.ModelMetadataRequest(name=args.model_name), timeout=t)
    r.check("ModelMetadata", [t_.name for t_ in md.outputs] == ["logits", "probabilities", "label", "guard_score",
                                                                "guard_flag"], f"{[t_.name for t_ in md.outputs]}")
    ref = Reference(args.bundle)
    x, _ = data.load_idx_dataset("test", args.data_dir)
    g = torch.Generator().manual_seed(args.seed)
    xs = x[torch.randperm(x.shape[0], generator=g)[:args.count]].contiguous()
    u8 = np.rint(xs.numpy() * 255.0).astype(np.uint8)
    logits, z, flags, border = ref.run(xs)
    for form in ("FP32-contents", "FP32-raw", "UINT8-raw", "BYTES-contents"):
        resp = stub.ModelInfer(make_request(pb, args.model_name, form, u8, request_id="kserve-" + form), timeout=t)
        o = decode_outputs(resp)
        d = float(np.max(np.abs(o["logits"][2] - logits.numpy())))
        same = np.array_equal(o["label"][2], logits.numpy().argmax(1))
        kinds = {k: param_value(v)[0] for k, v in resp.parameters.items()}
        ok = d <= LOGIT_TOL and same and resp.id == "kserve-" + form and None not in kinds.values()
        if ref.detector is not None:
            ok &= float(np.max(np.abs(o["guard_score"][2] - z.numpy()))) <= SCORE_TOL
        r.check(f"ModelInfer {form}", ok, f"max|logits-torch|={d:.2e}, labels equal={same}, params {kinds}")
    try:
        stub.ModelInfer(make_request(pb, "no-such-model", "FP32-raw", u8[:1]), timeout=t)
        r.check("unknown model -> NOT_FOUND", False, "answered OK")
    except grpc.RpcError as e:
        r.check("unknown model -> NOT_FOUND", e.code().name == "NOT_FOUND" and bool(e.details()),
                f"{e.code().name} '{e.details()}'")
    r.check("live at the end", stub.ServerLive(pb.ServerLiveRequest(), timeout=t).live)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proto-dir", required=True,
                    help="directory holding the upstream grpc_service.proto (+ model_config.proto) and/or "
                         "grpc_predict_v2.proto (searched recursively)")
    ap.add_argument("--address", required=True, help="host:port of guard serve (plaintext)")
    ap.add_argument("--model-name", required=True, help="served model with a detector")
    ap.add_argument("--bundle", required=True, help="that model's bundle directory (PyTorch reference)")
    ap.add_argument("--plain-model-name", help="served model without a detector (optional)")
    ap.add_argument("--plain-bundle", help="its bundle directory")
    ap.add_argument("--token", help="bearer token of the repository RPCs (default $GUARD_TOKEN)")
    ap.add_argument("--count", type=int, default=16, help="Fashion-MNIST test images per form (default 16)")
    ap.add_argument("--max-items", type=int, default=64, help="the server's --max-items (default 64)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the test-image draw")
    ap.add_argument("--timeout", type=float, default=60.0, help="deadline of each call in seconds")
    ap.add_argument("--data-dir", default=None, help="Fashion-MNIST IDX folder (default $GUARD_DATA_DIR or Debian's)")
    ap.add_argument("--our-proto", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto",
                                                         "src", "main", "proto", "grpc_service.proto"),
                    help="this project's grpc_service.proto, diffed field by field against the upstream files")
    ap.add_argument("--stubs", choices=("all", "triton", "kserve"), default="all",
                    help="which upstream stubs to use; 'all' runs triton here and kserve in a child process")
    args = ap.parse_args()
    args.token = args.token or os.environ.get("GUARD_TOKEN")
    if args.plain_model_name and not args.plain_bundle:
        ap.error("--plain-model-name needs --plain-bundle")
    if not 1 <= args.count <= args.max_items:
        ap.error(f"--count must be in 1..{args.max_items}")
    for p in (args.bundle, args.plain_bundle):
        if p and not os.path.isfile(os.path.join(p, "model.json")):
            ap.error(f"{p}: not a model bundle (model.json missing)")
    torch.set_num_threads(1)
    triton = find_proto(args.proto_dir, "grpc_service.proto")
    kserve = find_proto(args.proto_dir, "grpc_predict_v2.proto")
    if args.stubs in ("all", "triton") and not triton:
        ap.error(f"--proto-dir {args.proto_dir}: no grpc_service.proto (Triton) found")
    if args.stubs == "kserve" and not kserve:
        ap.error(f"--proto-dir {args.proto_dir}: no grpc_predict_v2.proto (KServe) found")

    failed = 0
    if args.stubs == "all" and os.path.isfile(args.our_proto):
        rep = Report("")
        for path, label in ((triton, "proto vs Triton"), (kserve, "proto vs KServe")):
            if path:
                print(f"# {label}: {os.path.abspath(args.our_proto)} against {path}", flush=True)
                diff_protos(args.our_proto, path, label, rep)
        print(f"# proto diff: {rep.passed} passed, {rep.failed} failed", flush=True)
        failed += rep.failed
    with tempfile.TemporaryDirectory(prefix="oip-stubs-") as tmp:
        if args.stubs in ("all", "triton"):
            print(f"# Triton stubs compiled from {triton}", flush=True)
            pb, pb_grpc = compile_stubs(triton, tmp)
            rep = Report("triton: ")
            Suite(args, pb, pb_grpc, rep).run()
            print(f"# triton stubs: {rep.passed} passed, {rep.failed} failed", flush=True)
            failed += rep.failed
        if args.stubs == "kserve":
            print(f"# KServe stubs compiled from {kserve}", flush=True)
            pb, pb_grpc = compile_stubs(kserve, tmp)
            rep = Report("kserve: ")
            kserve_suite(args, pb, pb_grpc, rep)
            print(f"# kserve stubs: {rep.passed} passed, {rep.failed} failed", flush=True)
            return 1 if rep.failed else 0
    if args.stubs == "all":
        if kserve:
            child = [sys.executable, os.path.abspath(__file__)] + [a for a in sys.argv[1:]]
            child += ["--stubs", "kserve"]
            rc = subprocess.call(child)
            if rc != 0:
                failed += 1
                print("FAIL kserve stubs: child exited", rc, flush=True)
        else:
            print("# no grpc_predict_v2.proto under --proto-dir: KServe stubs not run", flush=True)
    print(f"# SUMMARY: {'FAIL' if failed else 'PASS'} ({failed} failed)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
