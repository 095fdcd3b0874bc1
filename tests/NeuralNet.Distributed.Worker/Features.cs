using NeuralNet.Training;

namespace NeuralNet.Distributed.Worker;

/// <summary>
/// The trainer features the distributed tests check under data parallelism, each a variation of <see cref="Scenario"/>
/// (this file is compiled into both the worker and the test project, so the test recomputes the single-process run).
/// </summary>
internal static class Features
{
    public static readonly string[] Names = ["early-stopping", "validation-split", "sample-fraction", "history", "stop", "cancel", "diverge"];

    /// <summary>What a feature run ended with.</summary>
    public sealed record Outcome(Trainer<float> Trainer, string? Error, EarlyStopping<float>? EarlyStopping);

    /// <summary>Runs <paramref name="feature"/> on <paramref name="communicator"/> (null: one process) with each rank's batch
    /// <paramref name="batchPerRank"/>. The faults are triggered on <paramref name="faultRank"/> only: a stop request or a
    /// cancellation after step 7, a NaN weight after step 6.</summary>
    public static Outcome Run(Communicator? communicator, string feature, int batchPerRank, int faultRank)
    {
        var trainer = Scenario.Create(communicator, verifyEveryStep: false);
        int rank = communicator?.Rank ?? 0;
        var (x, y) = Scenario.Data(Scenario.TrainCount, 1);
        var (vx, vy) = Scenario.Data(Scenario.ValidationCount, 2);
        var options = new TrainerOptions { Epochs = 4, BatchSize = batchPerRank };
        EarlyStopping<float>? early = null;
        using var cancel = new CancellationTokenSource();
        bool explicitValidation = true;
        switch (feature)
        {
            case "early-stopping":
                early = new EarlyStopping<float>(TrainingMetric.ValidationLoss, patience: 2, minDelta: 0.02);
                trainer.Callbacks.Add(early);
                options = options with { Epochs = 40 };
                break;
            case "validation-split":
                explicitValidation = false;
                options = options with { ValidationSplit = 0.3, ValidationEveryIterations = 3 };
                break;
            case "sample-fraction":
                options = options with { SampleFraction = 0.7 };
                break;
            case "history":
                options = options with { RecordIterations = true, ValidationEveryIterations = 4 };
                break;
            case "stop":
                if (rank == faultRank) trainer.Callbacks.Add(new At(7, t => t.RequestStop()));
                break;
            case "cancel":
                if (rank == faultRank) trainer.Callbacks.Add(new At(7, _ => cancel.Cancel()));
                break;
            case "diverge":
                // After step 6: mid-epoch for 2 and 3 ranks (at an epoch's end the weight checksum would catch it first).
                if (rank == faultRank) trainer.Callbacks.Add(new At(6, t => t.Model.Parameters[0].Value.Data[3] = float.NaN));
                break;
            default:
                throw new ArgumentException($"Worker: unknown feature '{feature}'.");
        }
        string? error = null;
        try
        {
            trainer.Fit(x, y, options, explicitValidation ? vx : null, explicitValidation ? vy : null, cancellationToken: cancel.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or TrainingDivergedException)
        {
            error = $"{e.GetType().Name}: {e.Message}";
        }
        return new Outcome(trainer, error, early);
    }

    /// <summary>A callback that acts once, after iteration <paramref name="iteration"/>.</summary>
    private sealed class At(long iteration, Action<Trainer<float>> action) : TrainingCallback<float>
    {
        public override void OnIterationEnd(Trainer<float> trainer, in IterationRecord record)
        {
            if (record.Iteration == iteration) action(trainer);
        }
    }
}
