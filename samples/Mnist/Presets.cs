using NeuralNet.Models;
namespace MnistSample;

/// <summary>The network family a preset builds.</summary>
public enum Architecture
{
    /// <summary>A fully connected network: 784 → hidden… → 10.</summary>
    Mlp,

    /// <summary>LeNet-5: conv 6@5×5 → ReLU → pool → conv 16@5×5 → ReLU → pool → 120 → 84 → 10.</summary>
    LeNet,

    /// <summary>conv 8@3×3 (no bias) → sigmoid → pool 2×2 → dense 20 sigmoid → dense 10 softmax.</summary>
    SmallCnn,

    /// <summary>
    /// Three convolutions with batch normalization (widths from <see cref="Preset.Hidden"/>[0..2]), a dense layer with
    /// batch normalization and dropout (width <see cref="Preset.Hidden"/>[3]), then 10 logits; see <c>ModelFactory</c>.
    /// </summary>
    ModernCnn,
}

/// <summary>Learning-rate schedule families the sample exposes.</summary>
public enum ScheduleKind
{
    /// <summary>The learning rate never changes.</summary>
    Constant,

    /// <summary>η_e = η₀ · γ^⌊e / stepSize⌋, applied after every <c>stepSize</c> epochs.</summary>
    Step,

    /// <summary>Bold Driver: ×increase when the loss fell, ×decrease when it rose, after every epoch (iteration).</summary>
    BoldDriver,

    /// <summary>
    /// One cycle over the whole run, stepped every batch (PyTorch's OneCycleLR): cosine warm-up from η₀/25 to η₀ over the
    /// first <see cref="Preset.WarmupFraction"/> of the steps, then cosine annealing to η₀/25·10⁻⁴; SGD's momentum cycles
    /// 0.95 → 0.85 → 0.95 opposite to the rate when the preset has momentum.
    /// </summary>
    OneCycle,

    /// <summary>Cosine annealing from η₀ to 0 over the whole run, stepped every batch.</summary>
    Cosine,
}

/// <summary>Loss functions the sample exposes.</summary>
public enum LossKind
{
    /// <summary>Squared error against one-hot targets.</summary>
    Mse,

    /// <summary>Cross-entropy on softmax probabilities clipped to [ε, 1 − ε].</summary>
    CrossEntropy,

    /// <summary>Softmax fused with cross-entropy on logits.</summary>
    SoftmaxCrossEntropy,
}

/// <summary>
/// One reproduction of a reference system: every setting the sample uses, as data. Command-line options override
/// any of them (see <see cref="RunSettings"/>).
/// </summary>
/// <param name="Name">The preset's command-line name, e.g. <c>mlp</c>.</param>
/// <param name="Title">A one-line description for <c>--help</c> and the report.</param>
/// <param name="Reference">The reference system's reported figure, for the results table.</param>
/// <param name="Architecture">The network family.</param>
/// <param name="Hidden">Hidden layer widths (MLPs only).</param>
/// <param name="Activation">Hidden activation: <c>relu</c>, <c>sigmoid</c> or <c>tanh</c> (MLPs only).</param>
/// <param name="OutputActivation"><c>softmax</c> or <c>sigmoid</c>.</param>
/// <param name="Loss">The loss.</param>
/// <param name="CrossEntropyEpsilon">ε of the clipped cross-entropy.</param>
/// <param name="InitStd">Weights drawn from N(0, InitStd²) when set; otherwise the layer default (He/Xavier).</param>
/// <param name="Epochs">Training epochs (for spark-mlp: iterations over a random sample).</param>
/// <param name="BatchSize">Mini-batch size.</param>
/// <param name="LearningRate">Initial learning rate η₀.</param>
/// <param name="Schedule">The learning-rate schedule.</param>
/// <param name="Decay">γ of the step schedule.</param>
/// <param name="StepSize">Epochs between two step decays.</param>
/// <param name="BoldIncrease">Bold Driver's factor when the loss fell.</param>
/// <param name="BoldDecrease">Bold Driver's factor when the loss rose.</param>
/// <param name="SampleFraction">Fraction of the training set drawn at random (without replacement) for each epoch; 1 = all.</param>
/// <param name="Momentum">SGD momentum (0 = plain SGD, as in every reference).</param>
/// <param name="Validation">Images held out of the training set for validation.</param>
/// <param name="TrainSubset">Use only the first N training images (0 = all).</param>
/// <param name="TestSubset">Use only the first N test images (0 = all).</param>
/// <param name="Notes">Where and why the preset departs from the reference; printed in the report and docs.</param>
public sealed record Preset(
    string Name,
    string Title,
    string Reference,
    Architecture Architecture,
    int[] Hidden,
    string Activation,
    string OutputActivation,
    LossKind Loss,
    double CrossEntropyEpsilon,
    double? InitStd,
    int Epochs,
    int BatchSize,
    double LearningRate,
    ScheduleKind Schedule,
    double Decay,
    int StepSize,
    double BoldIncrease,
    double BoldDecrease,
    double SampleFraction,
    double Momentum,
    int Validation,
    int TrainSubset,
    int TestSubset,
    string Notes)
{
    /// <summary>L2 weight decay λ of SGD (the gradient gains λ·w); 0 in every reference.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Random rotation, scaling and translation of every training image, a fresh draw per epoch (TrainerOptions.Augmentation).</summary>
    public bool Augment { get; init; }

    /// <summary>The dropout probability of the layers that have dropout (modern-cnn).</summary>
    public double Dropout { get; init; }

    /// <summary>The fraction of the run spent warming the rate up under the one-cycle schedule, in (0, 1).</summary>
    public double WarmupFraction { get; init; } = 0.25;

    /// <summary>The preset used when none is named: the README's main job.</summary>
    public const string DefaultName = "mlp";

    /// <summary>Every preset, in the order of the reference systems.</summary>
    public static IReadOnlyList<Preset> All { get; } =
    [
        new(
            Name: "spark-mlp",
            Title: "Spark MLP: 784-64-10, tanh hidden, sigmoid output, squared error, 70% random sample per iteration, Bold Driver from 0.1",
            Reference: "83% training accuracy; F1 ≈ 0 for digits 3 and 9",
            Architecture: Architecture.Mlp,
            Hidden: [64],
            Activation: "tanh",
            OutputActivation: "sigmoid",
            Loss: LossKind.Mse,
            CrossEntropyEpsilon: 1e-7,
            InitStd: null,
            Epochs: 15,
            BatchSize: 10,
            LearningRate: 0.1,
            Schedule: ScheduleKind.BoldDriver,
            Decay: 1.0,
            StepSize: 1,
            BoldIncrease: 1.05,
            BoldDecrease: 0.5,
            SampleFraction: 0.7,
            Momentum: 0,
            Validation: 0,
            TrainSubset: 0,
            TestSubset: 0,
            Notes: "Each iteration's 70% sample is split into mini-batches of 10 (the reference takes one full-batch step per iteration) and 15 iterations are run instead of 100; Bold Driver still adjusts the rate once per iteration from that iteration's mean loss. --batch-size 42000 --epochs 100 runs the reference's full-batch schedule."),
        new(
            Name: "mlp",
            Title: "NumPy MLP: 784-64-10, sigmoid hidden, softmax output, cross-entropy, N(0, 0.1²), batch 256, step decay 0.97 per epoch",
            Reference: "94.8% test accuracy",
            Architecture: Architecture.Mlp,
            Hidden: [64],
            Activation: "sigmoid",
            OutputActivation: "softmax",
            Loss: LossKind.SoftmaxCrossEntropy,
            CrossEntropyEpsilon: 1e-7,
            InitStd: 0.1,
            Epochs: 15,
            BatchSize: 256,
            LearningRate: 3.0,
            Schedule: ScheduleKind.Step,
            Decay: 0.97,
            StepSize: 1,
            BoldIncrease: 1.05,
            BoldDecrease: 0.5,
            SampleFraction: 1.0,
            Momentum: 0,
            Validation: 5_000,
            TrainSubset: 0,
            TestSubset: 0,
            Notes: "Learning rate 3.0 instead of 0.001 (our loss is the batch mean, and sigmoid units learn slowly: 0.001 barely moves); 15 epochs instead of 100; validation is the last 5,000 training images and the test set is the full 10,000."),
        new(
            Name: "lenet",
            Title: "LeNet-5: conv 6@5×5 → ReLU → pool → conv 16@5×5 → ReLU → pool → 120 → 84 → 10, cross-entropy, SGD",
            Reference: "98.88% test accuracy",
            Architecture: Architecture.LeNet,
            Hidden: [],
            Activation: "relu",
            OutputActivation: "softmax",
            Loss: LossKind.SoftmaxCrossEntropy,
            CrossEntropyEpsilon: 1e-7,
            InitStd: null,
            Epochs: 12,
            BatchSize: 64,
            LearningRate: 0.05,
            Schedule: ScheduleKind.Step,
            Decay: 0.9,
            StepSize: 1,
            BoldIncrease: 1.05,
            BoldDecrease: 0.5,
            SampleFraction: 1.0,
            Momentum: 0.9,
            Validation: 1_000,
            TrainSubset: 0,
            TestSubset: 0,
            Notes: "The reference gives no optimizer settings: batch 64, η 0.05, momentum 0.9, ×0.9 per epoch, weight decay 5e-4 (without it 12 epochs give 98.91%), He initialization; 12 epochs, 1,000 validation images.")
        {
            WeightDecay = 5e-4,
        },
        new(
            Name: "small-cnn",
            Title: "NumPy CNN: conv 8@3×3 no bias → sigmoid → pool 2×2 → dense 20 sigmoid → dense 10 softmax, batch 1, η 0.01",
            Reference: "59.1% test accuracy on 1,000 test images (64.3% train)",
            Architecture: Architecture.SmallCnn,
            Hidden: [20],
            Activation: "sigmoid",
            OutputActivation: "softmax",
            Loss: LossKind.SoftmaxCrossEntropy,
            CrossEntropyEpsilon: 1e-7,
            InitStd: null,
            Epochs: 20,
            BatchSize: 1,
            LearningRate: 0.01,
            Schedule: ScheduleKind.Constant,
            Decay: 1.0,
            StepSize: 1,
            BoldIncrease: 1.05,
            BoldDecrease: 0.5,
            SampleFraction: 1.0,
            Momentum: 0,
            Validation: 0,
            TrainSubset: 0,
            TestSubset: 0,
            Notes: "Reference settings; 20 epochs on the full data; --subset 1000 --epochs 150 reproduces the reference's 1,000-image, 3 × 50-epoch setting."),
        new(
            Name: "deep-mlp",
            Title: "Minimal MLP module: hidden [400, 100, 25] ReLU, softmax, clipped cross-entropy ε = 1e-5, N(0, 0.01²), batch 30",
            Reference: "no figure reported; target ≥ 98%",
            Architecture: Architecture.Mlp,
            Hidden: [400, 100, 25],
            Activation: "relu",
            OutputActivation: "softmax",
            Loss: LossKind.CrossEntropy,
            CrossEntropyEpsilon: 1e-5,
            InitStd: 0.01,
            Epochs: 10,
            BatchSize: 30,
            LearningRate: 0.2,
            Schedule: ScheduleKind.Step,
            Decay: 0.8,
            StepSize: 1,
            BoldIncrease: 1.05,
            BoldDecrease: 0.5,
            SampleFraction: 1.0,
            Momentum: 0,
            Validation: 1_000,
            TrainSubset: 0,
            TestSubset: 0,
            Notes: "η 0.2 (inside the reference's 0.1–0.4 range) decayed ×0.8 per epoch (the reference keeps it constant; a constant 0.2 ends at 97.8%), 10 epochs, 1,000 validation images."),
        new(
            Name: "modern-cnn",
            Title: "Modern CNN: conv 5×5 → BN → ReLU → pool, conv 3×3 same → BN → ReLU → pool, conv 3×3 → BN → ReLU, dense → BN → ReLU → dropout → 10; augmentation, SGD momentum, one-cycle",
            Reference: "no reference system; target ≥ 99.6% test, 99.5% within 120 s on 2 cores",
            Architecture: Architecture.ModernCnn,
            Hidden: [24, 48, 96, 128],
            Activation: "relu",
            OutputActivation: "softmax",
            Loss: LossKind.SoftmaxCrossEntropy,
            CrossEntropyEpsilon: 1e-7,
            InitStd: null,
            Epochs: 5,
            BatchSize: 128,
            LearningRate: 0.3,
            Schedule: ScheduleKind.OneCycle,
            Decay: 1.0,
            StepSize: 1,
            BoldIncrease: 1.05,
            BoldDecrease: 0.5,
            SampleFraction: 1.0,
            Momentum: 0.9,
            Validation: 0,
            TrainSubset: 0,
            TestSubset: 0,
            Notes: "Not a reference system: the record preset. One learning-rate cycle over the 5 epochs, stepped every batch: a cosine warm-up from η/25 to η = 0.3 over the first fifth, then a cosine down to η/25·10⁻⁴, SGD momentum cycling 0.95 → 0.85 → 0.95. Every training image is rotated (±10°), scaled (±10%) and shifted (±2 px) afresh each epoch; all 60,000 images train (no validation split); --target-accuracy stops at a test accuracy (the cycle still spans all 5 epochs).")
        {
            WeightDecay = 5e-4,
            Augment = true,
            Dropout = 0.3,
            WarmupFraction = 0.2,
        },
    ];

    /// <summary>The preset names, for <c>--help</c> and validation.</summary>
    public static string[] Names => All.Select(p => p.Name).ToArray();

    /// <summary>Looks a preset up by name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No preset has that name; the message lists the valid ones.</exception>
    public static Preset Get(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown preset '{name}'; expected one of: {string.Join(", ", Names)}.", nameof(name));
}
