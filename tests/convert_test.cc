// `paligemma convert`: the same random weights written as a big_vision npz and as an HF
// safetensors checkpoint (single file and sharded, old and new names) convert to identical
// HDF5 datasets equal to the source values; dtype defaults; HF config import; errors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/error_matchers.h"
#include "convert/checkpoint_convert.h"
#include "runtime/check.h"
#include "convert/hf_import.h"
#include "io/safetensors_reader.h"
#include "models/checkpoint_reader.h"
#include "tests/checkpoint_test_util.h"
#include "tests/hf_export_test_util.h"
#include "tests/source_writers_test_util.h"

namespace pg {
namespace {

using testing::Store;
using testing::TempDir;

using testing::ErrorOf;

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// An HF model directory: config.json + model.safetensors, or 2 shards + index.
void WriteHfDir(const std::string& dir, const ModelConfig& c, const testing::TestWeights& w,
                const testing::HfExportOptions& o, bool sharded) {
  mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/config.json") << testing::HfConfigJson(c, o.extra_vocab_rows).dump(2);
  const std::vector<testing::StTensor> all = testing::HfTensorsOfWeights(c, w, o);
  if (!sharded) {
    testing::WriteFileBytes(dir + "/model.safetensors", testing::SafetensorsBytes(all));
    return;
  }
  std::vector<testing::StTensor> a(all.begin(), all.begin() + all.size() / 2), b(all.begin() + all.size() / 2, all.end());
  nlohmann::json map;
  for (const auto& t : a) map[t.name] = "model-00001-of-00002.safetensors";
  for (const auto& t : b) map[t.name] = "model-00002-of-00002.safetensors";
  testing::WriteFileBytes(dir + "/model-00001-of-00002.safetensors", testing::SafetensorsBytes(a));
  testing::WriteFileBytes(dir + "/model-00002-of-00002.safetensors", testing::SafetensorsBytes(b));
  std::ofstream(dir + "/model.safetensors.index.json") << nlohmann::json{{"metadata", {}}, {"weight_map", map}}.dump();
}

// Every dataset of `path` equals the source values bit for bit.
void ExpectCheckpointEquals(const std::string& path, const ModelConfig& c, const testing::TestWeights& w, DType dt) {
  CheckpointReader r(path);
  EXPECT_EQ(r.dtype(), dt) << path;
  EXPECT_EQ(r.config().ToJson(), c.ToJson()) << path;
  for (const WeightSpec& s : r.table()) {
    const std::vector<float> got = r.ReadF32(s.name);
    const std::vector<float>& want = w.at(s.name).values;
    ASSERT_EQ(got.size(), want.size()) << s.name;
    for (size_t i = 0; i < got.size(); ++i) {
      const float expect = dt == DType::kBF16 ? RoundToBf16(want[i]) : want[i];
      ASSERT_EQ(std::memcmp(&got[i], &expect, 4), 0) << path << " " << s.name << "[" << i << "]: " << got[i] << " vs "
                                                     << expect;
    }
  }
}

class ConvertBothSources : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvertBothSources, NpzAndHfGiveIdenticalDatasets) {
  TempDir dir;
  const ModelConfig c = testing::TinyConfig(GetParam());
  const testing::TestWeights w = testing::RandomWeights(c, 42, {Store::kF32, Store::kF16, Store::kBF16});
  ConvertOptions opt;
  // npz: plain zip and zip64; members stored/deflated, npy v1/v2/v3, '<f4' '<f2' '|V2'.
  for (bool zip64 : {false, true}) {
    const std::string npz = dir.File(zip64 ? "m64.npz" : "m.npz");
    testing::WriteFileBytes(npz, testing::NpzOfWeights(w, zip64));
    opt.output = dir.File(zip64 ? "npz64.h5" : "npz.h5");
    const ConvertResult r = ConvertNpz(npz, c, opt);
    EXPECT_EQ(r.dtype, DType::kF32);  // mixed sources default to f32
    ExpectCheckpointEquals(opt.output, c, w, DType::kF32);
    EXPECT_FALSE(Exists(opt.output + ".tmp"));
  }
  // HF: single file, old names, padded embedding rows and a tied lm_head; --config given.
  testing::HfExportOptions o;
  o.extra_vocab_rows = 24;
  o.lm_head = true;
  WriteHfDir(dir.File("hf1"), c, w, o, false);
  opt.output = dir.File("hf1.h5");
  ConvertHf(dir.File("hf1"), &c, {}, opt);
  ExpectCheckpointEquals(opt.output, c, w, DType::kF32);
  // HF: sharded with an index, transformers >= 4.52 names, no --config.
  o = {};
  o.new_names = true;
  WriteHfDir(dir.File("hf2"), c, w, o, true);
  opt.output = dir.File("hf2.h5");
  HfImportOptions hf;
  hf.name = c.name;
  hf.max_seq_len = c.max_seq_len;
  const ConvertResult r = ConvertHf(dir.File("hf2"), nullptr, hf, opt);
  EXPECT_EQ(r.config.ToJson(), c.ToJson());
  ExpectCheckpointEquals(opt.output, c, w, DType::kF32);
  // Explicit --dtype bf16 from the same npz.
  opt.output = dir.File("npz_bf16.h5");
  opt.dtype = DType::kBF16;
  ConvertNpz(dir.File("m.npz"), c, opt);
  ExpectCheckpointEquals(opt.output, c, w, DType::kBF16);
}

INSTANTIATE_TEST_SUITE_P(Families, ConvertBothSources, ::testing::Values("paligemma", "paligemma2"));

TEST(Convert, AllBf16SourcesDefaultToBf16Exactly) {
  TempDir dir;
  const ModelConfig c = testing::TinyConfig();
  const testing::TestWeights w = testing::RandomWeights(c, 9, {Store::kBF16});
  testing::WriteFileBytes(dir.File("b.npz"), testing::NpzOfWeights(w, false));
  ConvertOptions opt;
  opt.output = dir.File("b.h5");
  EXPECT_EQ(ConvertNpz(dir.File("b.npz"), c, opt).dtype, DType::kBF16);
  ExpectCheckpointEquals(opt.output, c, w, DType::kBF16);
  WriteHfDir(dir.File("hf"), c, w, {}, false);
  opt.output = dir.File("hf.h5");
  EXPECT_EQ(ConvertHf(dir.File("hf"), &c, {}, opt).dtype, DType::kBF16);
  ExpectCheckpointEquals(opt.output, c, w, DType::kBF16);
}

TEST(Convert, NpzMismatchesAreNamedAndLeaveNoOutput) {
  TempDir dir;
  const ModelConfig c = testing::TinyConfig();
  testing::TestWeights w = testing::RandomWeights(c, 1, {Store::kF32});
  ConvertOptions opt;
  opt.output = dir.File("out.h5");
  auto convert = [&](const testing::TestWeights& ws) {
    testing::WriteFileBytes(dir.File("x.npz"), testing::NpzOfWeights(ws, false));
    ConvertNpz(dir.File("x.npz"), c, opt);
  };
  testing::TestWeights missing = w;
  missing.erase("llm/final_norm/scale");
  EXPECT_ERROR_HAS(convert(missing), "missing member(s) for model 'tiny-paligemma': 'params/llm/final_norm/scale'");
  testing::TestWeights extra = w;
  extra["llm/layers/post_ffw_norm/scale"] = w.at("llm/layers/pre_ffw_norm/scale");
  EXPECT_ERROR_HAS(convert(extra), "not in model 'tiny-paligemma': 'params/llm/layers/post_ffw_norm/scale'");
  testing::TestWeights bad = w;
  bad.at("llm/layers/mlp/linear").shape = {2, 16, 24};
  EXPECT_ERROR_HAS(convert(bad), "'params/llm/layers/mlp/linear' has shape [2, 16, 24]; expected [2, 24, 16]");
  EXPECT_FALSE(Exists(opt.output));
  EXPECT_FALSE(Exists(opt.output + ".tmp"));
  // A corrupt member (flipped data byte in a stored member): CRC error, no output left.
  std::string bytes = testing::NpzOfWeights(w, false, /*deflate=*/false);
  const size_t at = bytes.find("img/embedding/bias.npy");
  const size_t next = bytes.find("PK\x03\x04", at);  // the next member's local header
  ASSERT_NE(next, std::string::npos);
  bytes[next - 1] ^= 0x40;  // the member's last data byte
  testing::WriteFileBytes(dir.File("crc.npz"), bytes);
  EXPECT_ERROR_HAS(ConvertNpz(dir.File("crc.npz"), c, opt), "CRC-32 mismatch");
  EXPECT_FALSE(Exists(opt.output));
  EXPECT_FALSE(Exists(opt.output + ".tmp"));
}

TEST(Convert, HfMismatchesAreNamed) {
  TempDir dir;
  const ModelConfig c = testing::TinyConfig();
  const testing::TestWeights w = testing::RandomWeights(c, 2, {Store::kF32});
  ConvertOptions opt;
  opt.output = dir.File("out.h5");
  auto write = [&](const std::string& name, std::vector<testing::StTensor> ts, nlohmann::json cfg) {
    mkdir(dir.File(name).c_str(), 0755);
    std::ofstream(dir.File(name) + "/config.json") << cfg.dump();
    testing::WriteFileBytes(dir.File(name) + "/model.safetensors", testing::SafetensorsBytes(ts));
    return dir.File(name);
  };
  const auto good = testing::HfTensorsOfWeights(c, w, {});
  const nlohmann::json cfg = testing::HfConfigJson(c);
  auto ts = good;
  ts.push_back({"language_model.model.layers.2.mlp.up_proj.weight", "F32", {1}, std::string(4, '\0')});
  EXPECT_ERROR_HAS(ConvertHf(write("unk", ts, cfg), &c, {}, opt), "'language_model.model.layers.2.mlp.up_proj.weight'");
  ts = good;
  ts.erase(ts.begin() + 3);
  EXPECT_ERROR_HAS(ConvertHf(write("miss", ts, cfg), &c, {}, opt), "missing tensor(s): '" + good[3].name + "'");
  ts = good;
  for (auto& t : ts)
    if (t.name == "multi_modal_projector.linear.weight") t.shape = {8, 16};
  EXPECT_ERROR_HAS(ConvertHf(write("shape", ts, cfg), &c, {}, opt),
                   "'multi_modal_projector.linear.weight' has shape [8, 16]; expected [16, 8]");
  nlohmann::json cfg2 = cfg;
  cfg2["text_config"]["num_key_value_heads"] = 2;
  EXPECT_ERROR_HAS(ConvertHf(write("cfg", good, cfg2), &c, {}, opt), "text/num_kv_heads: 2 vs 1");
  testing::HfExportOptions o;
  o.lm_head = true;
  ts = testing::HfTensorsOfWeights(c, w, o);
  ts.back().data[0] ^= 1;  // untie the output head
  EXPECT_ERROR_HAS(ConvertHf(write("lm", ts, cfg), &c, {}, opt), "untied output heads are not supported");
  EXPECT_FALSE(Exists(opt.output));
}

TEST(HfImport, HubStyleConfigsGiveTheRealModels) {
  // What the Hub's config.json holds: only non-default fields, the padded vocabulary.
  const nlohmann::json pg1 = nlohmann::json::parse(R"({
    "model_type": "paligemma", "image_token_index": 257152, "projection_dim": 2048, "hidden_size": 2048,
    "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
    "text_config": {"model_type": "gemma", "hidden_size": 2048, "intermediate_size": 16384,
                    "num_attention_heads": 8, "num_hidden_layers": 18, "num_image_tokens": 256,
                    "num_key_value_heads": 1, "vocab_size": 257216},
    "vision_config": {"hidden_size": 1152, "intermediate_size": 4304, "model_type": "siglip_vision_model",
                      "num_attention_heads": 16, "num_hidden_layers": 27, "num_image_tokens": 256,
                      "patch_size": 14, "projection_dim": 2048, "vision_use_head": false}})");
  HfImportOptions opt;
  opt.name = "paligemma-3b-pt-224";
  opt.max_seq_len = 512;
  const ModelConfig want = ModelConfig::FromFile(std::string(PG_SOURCE_DIR) + "/configs/paligemma-3b-pt-224.json");
  EXPECT_EQ(HfConfigToModelConfig(pg1, "hub", opt).ToJson(), want.ToJson());
  const nlohmann::json pg2 = nlohmann::json::parse(R"({
    "model_type": "paligemma", "image_token_index": 257152, "projection_dim": 2304, "hidden_size": 2048,
    "text_config": {"model_type": "gemma2", "hidden_size": 2304, "intermediate_size": 9216,
                    "num_attention_heads": 8, "num_hidden_layers": 26, "num_key_value_heads": 4,
                    "query_pre_attn_scalar": 256, "sliding_window": 4096, "vocab_size": 257216,
                    "hidden_activation": "gelu_pytorch_tanh"},
    "vision_config": {"hidden_size": 1152, "intermediate_size": 4304, "model_type": "siglip_vision_model",
                      "num_attention_heads": 16, "num_hidden_layers": 27, "patch_size": 14,
                      "vision_use_head": false}})");
  opt.name = "paligemma2-3b-pt-224";
  const ModelConfig want2 = ModelConfig::FromFile(std::string(PG_SOURCE_DIR) + "/configs/paligemma2-3b-pt-224.json");
  EXPECT_EQ(HfConfigToModelConfig(pg2, "hub", opt).ToJson(), want2.ToJson());
  // Without an image token beyond the tokenizer, the vocabulary is text_config.vocab_size.
  nlohmann::json tiny = pg1;
  tiny["image_token_index"] = 98;
  EXPECT_EQ(HfConfigToModelConfig(tiny, "hub", opt).text.vocab_size, 257216);
  opt.vocab_size = 1000;
  EXPECT_EQ(HfConfigToModelConfig(tiny, "hub", opt).text.vocab_size, 1000);
  nlohmann::json bad = pg1;
  bad["text_config"]["model_type"] = "llama";
  EXPECT_ERROR_HAS(HfConfigToModelConfig(bad, "hub", opt), "model_type 'llama' is not supported");
  bad = pg2;
  bad["text_config"]["layer_types"] = nlohmann::json::array();
  for (int l = 0; l < 26; ++l) bad["text_config"]["layer_types"].push_back("full_attention");
  EXPECT_ERROR_HAS(HfConfigToModelConfig(bad, "hub", opt), "layer_types[0] is \"full_attention\"");
}

// transformers reads None as "off" for the Gemma 2 soft-caps and the sliding window; values the
// engine cannot honour are refused, naming config.json and the field.
TEST(HfImport, NullMeansOffAndUnsupportedValuesAreRefused) {
  const nlohmann::json g2 = nlohmann::json::parse(R"({
    "model_type": "paligemma", "projection_dim": 64,
    "text_config": {"model_type": "gemma2", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2,
                    "num_hidden_layers": 2, "num_key_value_heads": 1, "head_dim": 32, "vocab_size": 1600},
    "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1,
                      "patch_size": 14, "image_size": 28}})");
  HfImportOptions opt;
  const ModelConfig defaults = HfConfigToModelConfig(g2, "'config.json'", opt);
  EXPECT_EQ(defaults.text.attn_softcap, 50.f);
  EXPECT_EQ(defaults.text.final_softcap, 30.f);
  EXPECT_EQ(defaults.text.sliding_window, 4096);
  nlohmann::json nulls = g2;
  nulls["text_config"]["attn_logit_softcapping"] = nullptr;
  nulls["text_config"]["final_logit_softcapping"] = nullptr;
  nulls["text_config"]["sliding_window"] = nullptr;
  nulls["text_config"]["layer_types"] = {"sliding_attention", "full_attention"};
  const ModelConfig off = HfConfigToModelConfig(nulls, "'config.json'", opt);
  EXPECT_EQ(off.text.attn_softcap, 0.f);
  EXPECT_EQ(off.text.final_softcap, 0.f);
  EXPECT_EQ(off.text.sliding_window, 0);
  nlohmann::json bad = g2;
  bad["vision_config"]["hidden_act"] = "quick_gelu";
  EXPECT_ERROR_HAS(HfConfigToModelConfig(bad, "'x/config.json'", opt), "'x/config.json' (vision_config): field 'hidden_act' is \"quick_gelu\"");
  bad = g2;
  bad["text_config"]["hidden_activation"] = "silu";
  EXPECT_ERROR_HAS(HfConfigToModelConfig(bad, "'x/config.json'", opt), "field 'hidden_activation' is \"silu\"");
  bad = g2;
  bad["text_config"]["attention_bias"] = true;
  EXPECT_ERROR_HAS(HfConfigToModelConfig(bad, "'x/config.json'", opt), "field 'attention_bias' is true");
}

TEST(HfImport, NewNamesMapToTheOriginalOnes) {
  EXPECT_EQ(CanonicalHfName("model.language_model.layers.3.mlp.up_proj.weight"),
            "language_model.model.layers.3.mlp.up_proj.weight");
  EXPECT_EQ(CanonicalHfName("model.vision_tower.vision_model.post_layernorm.bias"),
            "vision_tower.vision_model.post_layernorm.bias");
  EXPECT_EQ(CanonicalHfName("model.multi_modal_projector.linear.bias"), "multi_modal_projector.linear.bias");
  EXPECT_TRUE(IsTiedLmHead(CanonicalHfName("lm_head.weight")));
  EXPECT_EQ(CanonicalHfName("language_model.model.norm.weight"), "language_model.model.norm.weight");
}

// The fixtures transformers itself saved (tests/golden/make_fixtures.py) convert, and a few
// tensors land where the HF conversion script says (read back from the safetensors).
TEST(Convert, TransformersSavedFixturesConvert) {
  TempDir dir;
  for (const char* name : {"gemma1_mqa", "gemma2"}) {
    const std::string src = std::string(PG_SOURCE_DIR) + "/tests/fixtures/hf/" + name;
    if (!Exists(src + "/model.safetensors")) GTEST_SKIP() << "no fixture " << src;
    ConvertOptions opt;
    opt.output = dir.File(std::string(name) + ".h5");
    const ConvertResult r = ConvertHf(src, nullptr, {}, opt);
    EXPECT_EQ(r.config.name, name);
    CheckpointReader ck(opt.output);
    SafetensorsReader st(src);
    const TextConfig& t = ck.config().text;
    const int64_t N = t.num_heads, H = t.head_dim, D = t.width;
    const std::vector<float> q = ck.ReadF32("llm/layers/attn/q_einsum/w");  // [L, N, D, H]
    const std::vector<float> hq = st.ReadAsF32("language_model.model.layers.1.self_attn.q_proj.weight");  // [N*H, D]
    for (int64_t n = 0; n < N; ++n)
      for (int64_t d = 0; d < D; ++d)
        for (int64_t h = 0; h < H; ++h)
          ASSERT_EQ(q[((1 * N + n) * D + d) * H + h], hq[(n * H + h) * D + d]) << name;
    const std::vector<float> pre_ffw = ck.ReadF32("llm/layers/pre_ffw_norm/scale");
    const std::string hf_pre_ffw = ck.config().text.post_norms
                                       ? "language_model.model.layers.0.pre_feedforward_layernorm.weight"
                                       : "language_model.model.layers.0.post_attention_layernorm.weight";
    const std::vector<float> hp = st.ReadAsF32(hf_pre_ffw);
    EXPECT_EQ(std::vector<float>(pre_ffw.begin(), pre_ffw.begin() + D), hp) << name;
  }
}

// The sharded, replicated, leader-only and total parameter counts of inspect's line for `who`
// ("leader" / "follower"), or {} when there is none.
std::vector<long long> RankCounts(const std::string& out, const std::string& who) {
  const size_t at = out.find("\n  " + who + " ");
  if (at == std::string::npos) return {};
  std::istringstream line(out.substr(at + 3 + who.size(), out.find('\n', at + 1) - at));
  std::vector<long long> v(4);
  for (long long& x : v) line >> x;
  return line ? v : std::vector<long long>{};
}

// The `paligemma convert` / `inspect` command lines (the binary is built with the tests).
TEST(ConvertCli, ConvertThenInspectWithTensorParallelTotals) {
  const std::string bin = std::string(PG_BINARY_DIR) + "/paligemma";
  if (!Exists(bin)) GTEST_SKIP() << "no " << bin << " (build the paligemma target)";
  TempDir dir;
  const ModelConfig c = testing::TinyConfig();
  const testing::TestWeights w = testing::RandomWeights(c, 5, {Store::kF32, Store::kBF16});
  testing::WriteFileBytes(dir.File("m.npz"), testing::NpzOfWeights(w, true));
  std::ofstream(dir.File("tiny.json")) << c.ToJsonText();
  std::string out;
  const std::string env = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ";
  ASSERT_EQ(testing::RunCommand(env + bin + " convert --from npz --input " + dir.File("m.npz") + " --config " +
                                    dir.File("tiny.json") + " --output " + dir.File("m.h5") + " --dtype bf16",
                                &out),
            0)
      << out;
  EXPECT_NE(out.find("dtype bf16"), std::string::npos) << out;
  ExpectCheckpointEquals(dir.File("m.h5"), c, w, DType::kBF16);
  ASSERT_EQ(testing::RunCommand(env + bin + " inspect --model " + dir.File("m.h5") + " --tp 2", &out), 0) << out;
  EXPECT_NE(out.find("llm/layers/attn/q_einsum/w"), std::string::npos) << out;
  EXPECT_NE(out.find("split axis 1 (query heads) -> [2, 2, 16, 6] per rank"), std::string::npos) << out;
  EXPECT_NE(out.find("replicated (1 key/value heads not divisible by tp 2)"), std::string::npos) << out;
  EXPECT_NE(out.find("per rank at tp=2, --vit leader"), std::string::npos) << out;
  EXPECT_NE(out.find("whole, on the ranks that load the ViT (leader-only)"), std::string::npos) << out;
  // By hand for the tiny model at tp 2: split 4480 / 2 (embedding 40*16, q and o 2*4*16*6 each,
  // gate|up 2*2*16*24, down 2*24*16); replicated 464 (kv 2*2*1*16*6, norms 2*2*16 + 16);
  // ViT + projector 1744, on the leader only unless --vit sharded.
  EXPECT_EQ(RankCounts(out, "leader"), (std::vector<long long>{2240, 464, 1744, 4448})) << out;
  EXPECT_EQ(RankCounts(out, "follower"), (std::vector<long long>{2240, 464, 0, 2704})) << out;
  ASSERT_EQ(testing::RunCommand(env + bin + " inspect --model " + dir.File("m.h5") + " --tp 2 --vit sharded", &out), 0)
      << out;
  EXPECT_EQ(RankCounts(out, "follower"), (std::vector<long long>{2240, 464, 1744, 4448})) << out;
  // Failures exit non-zero with the reason.
  EXPECT_NE(testing::RunCommand(env + bin + " inspect --model " + dir.File("m.h5") + " --tp 3", &out), 0);
  EXPECT_NE(out.find("4 query heads are not divisible by --tp 3"), std::string::npos) << out;
  EXPECT_NE(testing::RunCommand(env + bin + " convert --from npz --input " + dir.File("m.npz") + " --output " +
                                    dir.File("x.h5"),
                                &out),
            0);
  EXPECT_NE(out.find("needs --config"), std::string::npos) << out;
  EXPECT_NE(testing::RunCommand(env + bin + " inspect --model " + dir.File("m.npz"), &out), 0);
  EXPECT_NE(out.find("is a zip archive"), std::string::npos) << out;
  EXPECT_FALSE(Exists(dir.File("x.h5")));
}

}  // namespace
}  // namespace pg
