using System.Globalization;
using System.Text;
using NeuralNet.Distributed;
using NeuralNet.Models;

namespace MnistSample;

/// <summary>
/// What the ranks of a <c>--distributed</c> run must agree on before they load data or train: every setting that changes
/// the training (named by its command-line option), and the checkpoint to resume from, which rank 0 must be able to read.
/// </summary>
/// <remarks>Independent of the trainer that runs afterwards: the settings come from <see cref="RunSettings"/> and the
/// checks use only the <see cref="Communicator"/>.</remarks>
public static class DistributedChecks
{
    /// <summary>Every setting that changes what is trained, named as on the command line. Thread count, output directory,
    /// report and console options are left out: they do not change the weights. The data directory is left out too (hosts
    /// may keep the files at different paths); the trainer compares the data's bits.</summary>
    /// <param name="settings">The run's settings.</param>
    /// <returns>The settings to compare across ranks.</returns>
    public static ConfigurationCheck Settings(RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var p = settings.Effective;
        var inv = CultureInfo.InvariantCulture;
        return new ConfigurationCheck()
            .Add("--preset", p.Name)
            .Add("--epochs", p.Epochs)
            .Add("--batch-size", p.BatchSize)
            .Add("--learning-rate", p.LearningRate)
            .Add("--schedule", p.Schedule.ToString())
            .Add("--warmup", p.WarmupFraction)
            .Add("--decay", p.Decay)
            .Add("--step-size", p.StepSize)
            .Add("--bold-increase", p.BoldIncrease)
            .Add("--bold-decrease", p.BoldDecrease)
            .Add("--momentum", p.Momentum)
            .Add("--weight-decay", p.WeightDecay)
            .Add("--hidden", string.Join(",", p.Hidden.Select(h => h.ToString(inv))))
            .Add("--activation", p.Activation)
            .Add("--sample-fraction", p.SampleFraction)
            .Add("--seed", (long)settings.Seed)
            .Add("--subset (training images)", p.TrainSubset)
            .Add("--subset (test images)", p.TestSubset)
            .Add("--validation", p.Validation)
            .Add("architecture", p.Architecture.ToString())
            .Add("output activation", p.OutputActivation)
            .Add("loss", p.Loss.ToString())
            .Add("cross-entropy epsilon", p.CrossEntropyEpsilon)
            .Add("initialization std", p.InitStd?.ToString("R", inv))
            .Add("data source", settings.Source.ToString())
            .Add("--resume", settings.Resume);
    }

    /// <summary>
    /// Compares <see cref="Settings"/> across the ranks, then (when resuming) has rank 0 check that the checkpoint can be
    /// read. Every rank gets the same answer: null when the run may start, otherwise the error message every rank prints.
    /// </summary>
    /// <param name="world">The ranks.</param>
    /// <param name="settings">This rank's settings.</param>
    /// <returns>Null, or the error (identical on every rank).</returns>
    public static string? Agree(Communicator world, RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(world);
        try
        {
            Settings(settings).Verify(world);
        }
        catch (ConfigurationMismatchException e)
        {
            return e.Message;
        }

        // The settings agree, so either every rank resumes from the same path or none does.
        if (settings.Resume is not { } path) return null;
        string? problem = world.IsRoot ? CheckReadable(path) : null;
        return BroadcastText(world, problem);
    }

    /// <summary>Null when <paramref name="path"/> is a file this process can read; otherwise why not.</summary>
    private static string? CheckReadable(string path)
    {
        if (Directory.Exists(path)) return $"Checkpoint '{path}' is a directory, not a checkpoint file.";
        if (!File.Exists(path)) return $"Checkpoint '{path}' does not exist.";
        try
        {
            using var stream = File.OpenRead(path);
            Span<byte> first = stackalloc byte[1];
            if (stream.Read(first) == 0) return $"Checkpoint '{path}' is empty.";
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"Checkpoint '{path}' cannot be read: {e.Message}";
        }
    }

    /// <summary>Rank 0's text (or null) on every rank.</summary>
    private static string? BroadcastText(Communicator world, string? text)
    {
        byte[] bytes = text is null ? [] : Encoding.UTF8.GetBytes(text);
        Span<long> length = [text is null ? -1 : bytes.Length];
        world.Broadcast(length);
        if (length[0] < 0) return null;
        if (!world.IsRoot) bytes = new byte[length[0]];
        world.Broadcast<byte>(bytes);
        return Encoding.UTF8.GetString(bytes);
    }
}
