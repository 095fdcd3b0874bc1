using System.Globalization;
using NeuralNet.Training;

namespace MnistSample;

/// <summary>
/// Keeps the settings that shape a run in its checkpoint and refuses to resume with different ones, naming each
/// difference: a resumed run must continue the run that was interrupted, not silently become another.
/// </summary>
/// <remarks>
/// <c>--epochs</c> is not among them (it is the total and may grow) unless the schedule spans the whole run (onecycle,
/// cosine: the run's length shapes every rate), nor <c>--threads</c> (results do not depend on it).
/// The network's shapes are checked by the checkpoint itself; the settings here are the ones whose change it cannot
/// see: batch size, subset and sample fraction, the learning rate and its schedule, the seed, momentum and decay, the
/// hidden activation, the loss and the data split.
/// </remarks>
public sealed class RunSettingsCallback(RunSettings settings, int trainCount, int validationCount) : TrainingCallback<float>, ICheckpointedCallback<float>
{
    /// <inheritdoc/>
    public string StateKind => "mnist_run_settings";

    private IReadOnlyList<(string Key, string Option, double Value)> Current()
    {
        var p = settings.Effective;
        return
        [
            ("preset", "--preset", Preset.All.Select(x => x.Name).ToList().IndexOf(settings.Preset.Name)),
            ("batch_size", "--batch-size", p.BatchSize),
            ("train_subset", "--subset", p.TrainSubset),
            ("validation", "--validation", p.Validation),
            ("train_count", "training images", trainCount),
            ("validation_count", "validation images", validationCount),
            ("sample_fraction", "--sample-fraction", p.SampleFraction),
            ("learning_rate", "--learning-rate", p.LearningRate),
            ("schedule", "--schedule", (int)p.Schedule),
            ("decay", "--decay", p.Decay),
            ("warmup", "--warmup", p.WarmupFraction),
            ("schedule_epochs", "--epochs", p.Schedule is ScheduleKind.OneCycle or ScheduleKind.Cosine ? p.Epochs : 0),
            ("step_size", "--step-size", p.StepSize),
            ("bold_increase", "--bold-increase", p.BoldIncrease),
            ("bold_decrease", "--bold-decrease", p.BoldDecrease),
            ("momentum", "--momentum", p.Momentum),
            ("weight_decay", "--weight-decay", p.WeightDecay),
            ("activation", "--activation", Array.IndexOf<string>(["relu", "sigmoid", "tanh"], p.Activation)),
            ("loss", "loss", (int)p.Loss),
            // A 64-bit seed does not fit a double exactly: stored as two 32-bit halves.
            ("seed_high", "--seed", settings.Seed >> 32),
            ("seed_low", "--seed", settings.Seed & 0xFFFF_FFFF),
        ];
    }

    /// <inheritdoc/>
    public CallbackState<float> GetState() =>
        new(Current().ToDictionary(s => s.Key, s => s.Value), []);

    /// <inheritdoc/>
    public void SetState(Trainer<float> trainer, CallbackState<float> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var differences = new List<string>();
        var seen = new HashSet<string>();
        foreach (var (key, option, value) in Current())
        {
            if (!state.Values.TryGetValue(key, out double saved) || saved.Equals(value)) continue;
            if (key.StartsWith("seed", StringComparison.Ordinal))
            {
                if (seen.Add("seed"))
                {
                    ulong old = ((ulong)Half(state, "seed_high") << 32) | (ulong)Half(state, "seed_low");
                    differences.Add(string.Create(CultureInfo.InvariantCulture, $"--seed {old} (now {settings.Seed})"));
                }
                continue;
            }
            differences.Add(string.Create(CultureInfo.InvariantCulture, $"{option} {Describe(key, saved)} (now {Describe(key, value)})"));
        }

        if (differences.Count > 0)
            throw new ArgumentException(
                $"the checkpoint was written with other settings: {string.Join(", ", differences)}. Resume with the interrupted run's settings, or start a new run without --resume.");
    }

    private static double Half(CallbackState<float> state, string key) => state.Values.TryGetValue(key, out double v) ? v : 0;

    private static string Describe(string key, double value) => key switch
    {
        "preset" => value >= 0 && value < Preset.All.Count ? Preset.All[(int)value].Name : value.ToString(CultureInfo.InvariantCulture),
        "schedule" => value switch
        {
            (double)(int)ScheduleKind.Step => "step", (double)(int)ScheduleKind.BoldDriver => "bold-driver",
            (double)(int)ScheduleKind.OneCycle => "onecycle", (double)(int)ScheduleKind.Cosine => "cosine", _ => "constant",
        },
        "activation" => value is >= 0 and < 3 ? ((string[])["relu", "sigmoid", "tanh"])[(int)value] : "?",
        _ => value.ToString(CultureInfo.InvariantCulture),
    };
}
