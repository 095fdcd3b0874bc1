using System.Globalization;

namespace NeuralNet.Distributed;

/// <summary>The settings of a <see cref="DistributedTrainer{T}"/> run. Every rank must use the same values (they are hashed and compared at start).</summary>
public sealed class DistributedTrainerOptions
{
    /// <summary>The number of epochs to train (in total, counting epochs restored from a checkpoint). Default 1.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>B, the examples each rank processes per step. The global mini-batch is N·B for N ranks, so a run on N ranks
    /// takes the same steps as one process with batch N·B. Default 32.</summary>
    public int BatchSizePerRank { get; init; } = 32;

    /// <summary>Seed of the generator that shuffles the training set every epoch (the same on every rank). Default 0.</summary>
    public ulong Seed { get; init; }

    /// <summary>Whether to shuffle every epoch. Default true.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Stop when the monitored loss (validation loss with validation data, else training loss) has not improved for
    /// this many epochs, and restore the best weights. 0 disables early stopping. Default 0.</summary>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>The checkpoint file rank 0 writes (atomically) every <see cref="CheckpointEvery"/> epochs; null for none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Epochs between checkpoints. Default 1.</summary>
    public int CheckpointEvery { get; init; } = 1;

    /// <summary>Resume from <see cref="CheckpointPath"/> when rank 0 finds the file there. Default false.</summary>
    public bool Resume { get; init; }

    /// <summary>Compare a checksum of the weights across ranks after every step (one tiny all-gather per step); a difference
    /// stops every rank. Default false: the check runs once per epoch.</summary>
    public bool VerifyWeightsEveryStep { get; init; }

    /// <summary>How gradients are summed across ranks. Default <see cref="GradientReduction.Ordered"/> (bit-identical).</summary>
    public GradientReduction Reduction { get; init; } = GradientReduction.Ordered;

    /// <summary>Examples per forward pass when evaluating validation data. Default 1000.</summary>
    public int EvaluationBatchSize { get; init; } = 1000;

    /// <summary>Free text added to the configuration hash, for settings the trainer cannot see (data preprocessing, model preset…).</summary>
    public string? Description { get; init; }

    /// <summary>Throws when a value is out of range.</summary>
    /// <exception cref="ArgumentException">The message names the setting and the value.</exception>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"DistributedTrainerOptions: Epochs must be at least 1, got {Epochs}.");
        if (BatchSizePerRank < 1) throw new ArgumentException($"DistributedTrainerOptions: BatchSizePerRank must be at least 1, got {BatchSizePerRank}.");
        if (EarlyStoppingPatience < 0) throw new ArgumentException($"DistributedTrainerOptions: EarlyStoppingPatience must be non-negative, got {EarlyStoppingPatience}.");
        if (CheckpointEvery < 1) throw new ArgumentException($"DistributedTrainerOptions: CheckpointEvery must be at least 1, got {CheckpointEvery}.");
        if (EvaluationBatchSize < 1) throw new ArgumentException($"DistributedTrainerOptions: EvaluationBatchSize must be at least 1, got {EvaluationBatchSize}.");
        if (Resume && CheckpointPath is null) throw new ArgumentException("DistributedTrainerOptions: Resume needs a CheckpointPath.");
    }

    /// <summary>The settings that must agree across ranks, one per line, for the configuration hash. <see cref="Resume"/> is
    /// among them: a rank that resumes alone would wait forever for the checkpoint broadcast.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"epochs {Epochs}\nbatch per rank {BatchSizePerRank}\nseed {Seed}\nshuffle {Shuffle}\nearly stopping patience {EarlyStoppingPatience}\n" +
        $"checkpoint every {CheckpointEvery}\nresume {Resume}\nverify every step {VerifyWeightsEveryStep}\nreduction {Reduction}\ndescription {Description}");
}
