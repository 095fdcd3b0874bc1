using System.Runtime.InteropServices;
using System.Security.Cryptography;
using FluentAssertions;
using NeuralNet.Initialization;
using NeuralNet.Models;
using NeuralNet.Modules;

namespace NeuralNet.Tests.Models;

/// <summary>
/// Pins the initial weights of every preset and builder: a SHA-256 of all parameters and buffers in order, plus the
/// generator's state after the build (a builder must draw nothing else, so the same generator goes on to shuffle the
/// data identically). The hashes were recorded from the builders as they were when each layer was built from a
/// throw-away generator and the whole model re-initialized afterwards; they must not change when the drawing moves.
/// </summary>
public class InitialWeightsGoldenTests
{
    private const ulong Seed = 20240607;

    private static readonly Dictionary<string, Func<RandomGenerator, Module<float>>> FloatBuilders = new()
    {
        ["spark-mlp"] = r => ReferenceNetworks.SparkMlp<float>(r),
        ["spark-mlp/he-uniform"] = r => ReferenceNetworks.SparkMlp<float>(r, Initializer.HeUniform()),
        ["mlp"] = r => ReferenceNetworks.Mlp<float>(r),
        ["mlp/softmax/xavier-normal"] = r => ReferenceNetworks.Mlp<float>(r, OutputActivation.Softmax, Initializer.XavierNormal(0.5)),
        ["lenet"] = r => ReferenceNetworks.LeNet5<float>(r),
        ["lenet/default"] = r => ReferenceNetworks.LeNet5<float>(r, OutputActivation.Softmax, Initializer.Default),
        ["small-cnn"] = r => ReferenceNetworks.SmallCnn<float>(r),
        ["small-cnn/xavier-filters/h7"] = r => ReferenceNetworks.SmallCnn<float>(r, hiddenWidth: 7, filterStandardDeviation: null),
        ["small-cnn/sigmoid"] = r => ReferenceNetworks.SmallCnn<float>(r, filterStandardDeviation: 0.3, output: OutputActivation.Sigmoid),
        ["deep-mlp"] = r => ReferenceNetworks.DeepMlp<float>(r),
        ["deep-mlp/softmax/zeros"] = r => ReferenceNetworks.DeepMlp<float>(r, OutputActivation.Softmax, Initializer.Zeros),
        ["modern-cnn"] = r => ReferenceNetworks.ModernCnn<float>(r),
        ["modern-cnn/small"] = r => ReferenceNetworks.ModernCnn<float>(r, 4, 8, 16, 32, 0.1),
        ["mlp-builder/relu"] = r => MlpBuilder.Build<float>(784, [64], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, r),
        ["mlp-builder/sigmoid"] = r => MlpBuilder.Build<float>(784, [900, 400], 10, HiddenActivation.Sigmoid, OutputActivation.Softmax, null, r),
        ["mlp-builder/tanh"] = r => MlpBuilder.Build<float>(20, [16, 8, 4], 3, HiddenActivation.Tanh, OutputActivation.Sigmoid, null, r),
        ["mlp-builder/linear/gaussian"] = r => MlpBuilder.Build<float>(784, [], 10, HiddenActivation.ReLU, OutputActivation.Logits, Initializer.Gaussian(0.05, 0.01), r),
        ["mlp-builder/he-uniform"] = r => MlpBuilder.Build<float>(784, [400, 100, 25], 10, HiddenActivation.ReLU, OutputActivation.Logits, Initializer.HeUniform(), r),
    };

    private static readonly Dictionary<string, Func<RandomGenerator, Module<double>>> DoubleBuilders = new()
    {
        ["mlp<double>"] = r => ReferenceNetworks.Mlp<double>(r),
        ["lenet<double>"] = r => ReferenceNetworks.LeNet5<double>(r),
        ["small-cnn<double>"] = r => ReferenceNetworks.SmallCnn<double>(r),
        ["modern-cnn<double>"] = r => ReferenceNetworks.ModernCnn<double>(r, 3, 5, 7, 9),
        ["mlp-builder/tanh<double>"] = r => MlpBuilder.Build<double>(784, [64], 10, HiddenActivation.Tanh, OutputActivation.Logits, null, r),
    };

    // Recorded from the code before the builders passed the scheme and generator to each layer's constructor.
    private static readonly Dictionary<string, string> Expected = new()
    {
        ["deep-mlp/softmax/zeros"] = "068150b0adb1db5ad8e66bacee191973fcb371ca3bc93f298933880ad4f1cd4c",
        ["deep-mlp"] = "afe9651b3ad2ce2160ef788da58d0edb0cb173f5ca9fc1563caba92c36d1ab6f",
        ["lenet/default"] = "5fd67cc4018e1b0f01cad18a64d7b55206afbe5779276797bf0bc19abffc4d0b",
        ["lenet"] = "5f4425fabf528f59c412e2919b3e529489df0efa5e0eaf9bd3ae6cc85f725ea3",
        ["lenet<double>"] = "708ae8f03024d457bde44bfbd4dd9690b4950bd2c1ee282b6683528525794ada",
        ["mlp-builder/he-uniform"] = "5bbee720cbb43a02077aec9145e2aa38de5d1d6095b57fe6f6df86ea151aea6f",
        ["mlp-builder/linear/gaussian"] = "999649113620f2db2abed734d53dc02491a1d361a683639f39ab1de5f7d02c74",
        ["mlp-builder/relu"] = "51f7209bdf84ab8fafb087e9cc4cbcb5f6acf1fdb231bb97b929bbd74128d771",
        ["mlp-builder/sigmoid"] = "eec04f33d6f8221ab7a8b34bbf226eb03d99df598a2f09eb51c6cead82980930",
        ["mlp-builder/tanh"] = "dde6d6f9df1c9b3f2affcdbe9d7fa8700a5a318874da2b758a0e210752d3cfc4",
        ["mlp-builder/tanh<double>"] = "b7a76e24671bf5909013380fae7eb9509c05f4b77bc40f7ebed5c145e1572c05",
        ["mlp/softmax/xavier-normal"] = "c91a6abd4d46ac698a95ebcdb4dc25594936ddd466c8f106c43f56286b1aa0f1",
        ["mlp"] = "343e85658f0838acbfc4e0947d46fa23888e2451d3dd082e3aff9e9c4361d656",
        ["mlp<double>"] = "22d8f93c9bed2785d5bc89cfb2ad9f933077480bdc23879893c2752f32e9dc5a",
        ["modern-cnn/small"] = "54c5657d2103d78f710ae9fa2f4656fb21056b2c750321b3e10e72ef7a3b3ecb",
        ["modern-cnn"] = "0128698b78df8f3d92fb23797dff9c364f1e7d12a6ad8979b63a727fdd403a9f",
        ["modern-cnn<double>"] = "5c3f4d7fa61163a7aa27366a7b00f0c8aec9e5783396d19c53eb55fbe13fa0c7",
        ["small-cnn/sigmoid"] = "dd0d1b672e058c6820fc063fe5d5921436a8310972d304c4067cc9437fc0d29a",
        ["small-cnn/xavier-filters/h7"] = "3fc4a36ce66286a064850c29395a25b458257b5057be59c1ad59e93a2126f34a",
        ["small-cnn"] = "d7409aec8288b469bb31d43e75f446f08a41a938df124843445825bcc73b0b66",
        ["small-cnn<double>"] = "770457122b77a994858c2462357c86b6847ca9b7379832f376e5bfea68e41924",
        ["spark-mlp/he-uniform"] = "b2e27a6c11c05fba07201e34d1770497384373d2b28ce04191614775008a1fdc",
        ["spark-mlp"] = "2431272bfd19d28a88778e78f32ec1291aa7ea260abec98a57f14bfb9eb480e5",
    };

    public static TheoryData<string> Names => new(FloatBuilders.Keys.Concat(DoubleBuilders.Keys));

    [Theory]
    [MemberData(nameof(Names))]
    public void SameSeed_GivesTheRecordedWeights_AndLeavesTheGeneratorWhereItWas(string name)
    {
        var random = new RandomGenerator(Seed);
        string actual = FloatBuilders.TryGetValue(name, out var f) ? Hash(f(random), random) : Hash(DoubleBuilders[name](random), random);
        Expected.Should().ContainKey(name, $"no hash recorded for {name}; actual {actual}");
        actual.Should().Be(Expected[name], name);
    }

    private static string Hash<T>(Module<T> model, RandomGenerator random) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in model.Parameters)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(p.Name + ":" + string.Join("x", p.Value.ShapeArray()) + ";"));
            hash.AppendData(MemoryMarshal.AsBytes(p.Value.AsSpan()));
        }
        foreach (var b in model.Buffers)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(b.Name + ";"));
            hash.AppendData(MemoryMarshal.AsBytes(b.Value.AsSpan()));
        }
        foreach (ulong s in random.GetState()) hash.AppendData(BitConverter.GetBytes(s));
        return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }
}
