#!/usr/bin/python3
"""Self-tests of the pyguard reference package: /usr/bin/python3 -m unittest tools/test_pyguard.py -v"""

import json
import os
import struct
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyguard import archs, bundle, st, triggers  # noqa: E402

torch.set_num_threads(2)


class SafetensorsTest(unittest.TestCase):
    def test_round_trip_and_layout(self):
        tensors = {
            "b": torch.randn(3, 4), "a": torch.tensor(7, dtype=torch.int64),
            "c": torch.randn(5).to(torch.bfloat16), "d": torch.randn(2, 2, dtype=torch.float64),
            "e": torch.zeros(0, 3), "f": torch.tensor([True, False]), "g": torch.randn(3).half(),
        }
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "t.safetensors")
            st.save_file(tensors, p, metadata={"k": "v"})
            back = st.load_file(p)
            self.assertEqual(st.load_metadata(p), {"k": "v"})
            for k, t in tensors.items():
                self.assertEqual(back[k].dtype, t.dtype, k)
                self.assertTrue(torch.equal(back[k], t), k)
            blob = open(p, "rb").read()
        (n,) = struct.unpack("<Q", blob[:8])
        self.assertEqual(n % 8, 0)
        header = json.loads(blob[8:8 + n])
        names = [k for k in header if k != "__metadata__"]
        self.assertEqual(names, sorted(names))
        self.assertEqual(header["a"], {"dtype": "I64", "shape": [], "data_offsets": [0, 8]})
        self.assertEqual(header["b"]["data_offsets"], [8, 56])
        self.assertEqual(len(blob), 8 + n + sum(e - b for b, e in (header[k]["data_offsets"] for k in names)))

    def test_deterministic(self):
        t = {"x": torch.arange(10, dtype=torch.float32)}
        self.assertEqual(st.serialize(t, {"a": "b"}), st.serialize(dict(t), {"a": "b"}))


class ArchTest(unittest.TestCase):
    def test_parameter_counts(self):
        # specs/clp-fst.md 4.1, 4.3, 4.5
        def count(m):
            return sum(p.numel() for p in m.parameters())
        self.assertEqual(count(archs.build("cnn-small", 1, 10)), 74986)
        self.assertEqual(count(archs.build("resnet18", 3, 10)), 11173962)
        self.assertEqual(count(archs.build("preact-resnet18", 3, 10)), 11171146)
        self.assertEqual(len(archs.build("resnet18", 3, 10).state_dict()), 122)

    def test_taps_match_forward(self):
        for name, width in (("cnn-small", None), ("preact-resnet18", 4), ("resnet18", 4)):
            m = archs.build(name, 1, 10, width).eval()
            x = torch.rand(2, 1, 28, 28)
            logits, taps = m.forward_taps(x)
            self.assertEqual(tuple(taps), tuple(m.TAPS))
            self.assertTrue(torch.equal(taps["logits"], logits))
            self.assertTrue(torch.allclose(m(x), logits))
            sd = m.state_dict()
            for conv, bn in m.CLP_PAIRS:
                self.assertEqual(sd[conv + ".weight"].shape[0], sd[bn + ".weight"].shape[0])
            self.assertIn(m.HEAD + ".weight", sd)

    def test_bundle_round_trip(self):
        m = archs.build("resnet18", 1, 10, 4)
        with tempfile.TemporaryDirectory() as tmp:
            bundle.write_bundle(tmp, m, "resnet18", [1, 28, 28], 10, [0.5], [0.25], [str(i) for i in range(10)], 4)
            back, meta = bundle.read_bundle(tmp)
            self.assertEqual(meta["width"], 4)
            x = torch.rand(2, 1, 28, 28)
            self.assertTrue(torch.equal(back(x), m.eval()(x)))
            w = st.load_file(os.path.join(tmp, "weights.safetensors"))
            self.assertEqual(w["bn1.num_batches_tracked"].dtype, torch.int64)
            del w["linear.bias"]
            w["extra"] = torch.zeros(1)
            st.save_file(w, os.path.join(tmp, "weights.safetensors"))
            with self.assertRaises(RuntimeError) as ctx:
                bundle.read_bundle(tmp)
            self.assertIn("linear.bias", str(ctx.exception))
            self.assertIn("extra", str(ctx.exception))


class TriggerTest(unittest.TestCase):
    def test_badnets(self):
        x = torch.zeros(1, 1, 28, 28)
        y = triggers.badnets(x)
        self.assertEqual(y.sum().item(), 9)
        self.assertTrue(torch.all(y[0, 0, 24:27, 24:27] == 1))

    def test_splitmix64(self):
        # SplitMix64 from seed 0: first output 0xE220A8397B1DCDAF
        self.assertEqual(triggers.splitmix64_doubles(0, 1)[0], (0xE220A8397B1DCDAF >> 11) * 2.0 ** -53)
        self.assertEqual(len(set(triggers.splitmix64_doubles(1, 100))), 100)

    def test_blended_and_sig(self):
        x = torch.rand(2, 1, 28, 28)
        t = triggers.blend_pattern((1, 28, 28), 0)
        self.assertEqual(t[0, 0, 0].item(), torch.tensor(triggers.splitmix64_doubles(0, 1)[0]).float().item())
        self.assertTrue(torch.allclose(triggers.blended(x), 0.8 * x + 0.2 * t))
        s = triggers.sig(torch.full((1, 28, 28), 0.5))
        self.assertAlmostEqual(s[0, 3, 0].item(), 0.5)
        self.assertAlmostEqual(s[0, 0, 1].item(), 0.5 + 40 / 255 * __import__("math").sin(2 * 3.141592653589793 * 6 / 28), 6)
        self.assertLessEqual(triggers.sig(torch.ones(1, 28, 28)).max().item(), 1.0)


if __name__ == "__main__":
    unittest.main()
