using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Training;

namespace NeuralNet.Distributed;

/// <summary>
/// Synchronous data-parallel training over a <see cref="Communicator"/>: every rank holds the whole model and the whole
/// data set, trains on its shard of each global mini-batch, and applies the same averaged gradient, so all ranks hold
/// bit-identical weights after every step.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>One step, global batch of n = N·B examples (fewer at the end of an epoch) from the shuffled order, N ranks:</para>
/// <code>
/// rank r: its contiguous slice of nᵣ examples (DataParallel.Shard)
///         forward, loss Lᵣ (mean over nᵣ), correct cᵣ
///         all-reduce [nᵣ·Lᵣ, cᵣ] in rank order → batch loss L = Σ nᵣ·Lᵣ / n, accuracy Σ cᵣ / n
///         backward → Gᵣ;  all-reduce Σ (nᵣ/n)·Gᵣ in rank order → G (identical bits on every rank)
///         optimizer.Step() with G
/// </code>
/// <para>The shuffle generator is seeded identically on every rank, so every rank agrees on the order without
/// communicating. Losses, accuracies and validation figures are reduced before any decision, so a Bold Driver schedule
/// and early stopping decide the same on every rank. At start the ranks compare a SHA-256 of the model definition, the
/// optimizer, the schedule, the options and the data; a mismatch stops every rank with a message naming the odd ones
/// out. Then rank 0's initial weights (or its checkpoint) are broadcast.</para>
/// <para>Equivalence: N ranks with batch B take the same steps as one process with batch N·B on the same order. The
/// results agree to float rounding (not bit for bit), because one process sums the N·B per-example gradient terms in one
/// GEMM while N ranks sum per shard and then across ranks. Across ranks, across runs, and between
/// <see cref="MpiCommunicator"/> and <see cref="InProcessCommunicator"/> with the same N, results are bit-identical.</para>
/// <para>Only rank 0 writes checkpoints; every rank returns the same <see cref="History"/>.</para>
/// </remarks>
public sealed class DistributedTrainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Dictionary<int, (NdArray<T> X, int[] Y)> _batches = [];
    private readonly int[] _parameterLengths;
    private readonly int[] _optimizerLengths;
    private T[][]? _bestWeights;
    private T[][]? _undoWeights;

    /// <summary>Creates a trainer.</summary>
    /// <param name="communicator">The group; <see cref="LocalCommunicator"/> runs the same algorithm in one process.</param>
    /// <param name="model">The model, built identically on every rank (its initial weights are replaced by rank 0's).</param>
    /// <param name="loss">The loss (mean over the batch).</param>
    /// <param name="optimizer">The optimizer over the model's parameters (any order, any groups). Its attached schedule, if any,
    /// is the trainer's <see cref="Schedule"/>; loss-driven schedules see the globally reduced loss.</param>
    /// <param name="options">The settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">The options are invalid, or the optimizer does not step exactly the model's parameters.</exception>
    public DistributedTrainer(Communicator communicator, Module<T> model, Loss<T> loss, Optimizer<T> optimizer,
        DistributedTrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        Options = options ?? new DistributedTrainerOptions();
        Options.Validate();
        var parameters = model.Parameters;
        if (optimizer.Parameters.Count != parameters.Count || !optimizer.Parameters.ToHashSet(ReferenceEqualityComparer.Instance).SetEquals(parameters))
            throw new ArgumentException("DistributedTrainer: the optimizer must step exactly the model's parameters.", nameof(optimizer));
        Communicator = communicator;
        Model = model;
        Loss = loss;
        Optimizer = optimizer;
        DataParallel = new DataParallel<T>(communicator, parameters, Options.Reduction);
        _parameterLengths = parameters.Select(p => p.Value.Length).ToArray();
        _optimizerLengths = optimizer.Parameters.Select(p => p.Value.Length).ToArray();
        Random = new RandomGenerator(Options.Seed);
    }

    /// <summary>The group of ranks.</summary>
    public Communicator Communicator { get; }

    /// <summary>The model being trained.</summary>
    public Module<T> Model { get; }

    /// <summary>The loss.</summary>
    public Loss<T> Loss { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer<T> Optimizer { get; }

    /// <summary>The learning-rate schedule attached to the optimizer, if any.</summary>
    public LearningRateSchedule? Schedule => Optimizer.Schedule;

    /// <summary>The settings.</summary>
    public DistributedTrainerOptions Options { get; }

    /// <summary>The gradient and weight synchronization.</summary>
    public DataParallel<T> DataParallel { get; }

    /// <summary>The shuffle generator (identical state on every rank).</summary>
    public RandomGenerator Random { get; }

    /// <summary>The per-epoch history, identical on every rank.</summary>
    public History History { get; } = new();

    /// <summary>Completed epochs (including epochs restored from a checkpoint).</summary>
    public int Epoch { get; private set; }

    /// <summary>Optimizer steps so far.</summary>
    public long Iteration { get; private set; }

    /// <summary>True when early stopping ended the last <see cref="Fit"/> (the best weights were restored).</summary>
    public bool StoppedEarly { get; private set; }

    /// <summary>The configuration hash all ranks agreed on (16 hex digits), set by <see cref="Fit"/>.</summary>
    public string? ConfigurationHash { get; private set; }

    /// <summary>
    /// Trains until <see cref="DistributedTrainerOptions.Epochs"/> epochs are complete (or early stopping), on every rank.
    /// </summary>
    /// <param name="inputs">All training inputs (N, …), the same on every rank.</param>
    /// <param name="labels">All training labels, class indices.</param>
    /// <param name="validationInputs">Optional validation inputs, evaluated in shards after every epoch.</param>
    /// <param name="validationLabels">Their labels (required with <paramref name="validationInputs"/>).</param>
    /// <param name="progress">Receives each epoch's record (on every rank; print on <see cref="Communicator.IsRoot"/> only).</param>
    /// <returns>The history (identical on every rank).</returns>
    /// <exception cref="ArgumentException">The data are inconsistent (counts, shapes, non-finite inputs).</exception>
    /// <exception cref="InvalidOperationException">The ranks disagree on the configuration, their weights diverged, or the loss became NaN or infinite.</exception>
    /// <exception cref="InvalidDataException">The checkpoint to resume from is corrupted or belongs to another model.</exception>
    public History Fit(NdArray<T> inputs, int[] labels, NdArray<T>? validationInputs = null, int[]? validationLabels = null,
        IProgress<EpochRecord>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        CheckData(inputs, labels, "training");
        if ((validationInputs is null) != (validationLabels is null))
            throw new ArgumentException("DistributedTrainer.Fit: validation inputs and labels must be given together.", nameof(validationLabels));
        if (validationInputs is not null) CheckData(validationInputs, validationLabels!, "validation");

        string modelDescription = DescribeModelAndOptimizer();
        string modelHash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(modelDescription)))[..16].ToLowerInvariant();
        ConfigurationHash = DataParallel.VerifySameConfiguration(
            modelDescription + "\n" + Options + "\nranks " + Communicator.Size +
            "\ntraining data " + DescribeData(inputs, labels) +
            "\nvalidation data " + (validationInputs is null ? "none" : DescribeData(validationInputs, validationLabels!)));

        bool undo = Schedule is { MayRequestUndo: true };
        if (undo) _undoWeights ??= AllocateCopies();
        if (Options.EarlyStoppingPatience > 0) _bestWeights ??= AllocateCopies();
        double bestLoss = double.PositiveInfinity;
        int epochsWithoutImprovement = 0;

        if (!TryResume(modelHash, ref bestLoss, ref epochsWithoutImprovement))
        {
            DataParallel.BroadcastParameters();
            if (undo) Copy(_undoWeights!, toParameters: false);
        }
        DataParallel.VerifyParametersIdentical("the start of training");

        int n = inputs.Dim(0);
        int size = Communicator.Size, rank = Communicator.Rank;
        int globalBatch = checked(Options.BatchSizePerRank * size);
        var order = new int[n];
        var watch = Stopwatch.StartNew();
        TimeSpan elapsedBefore = History.Epochs.Count > 0 ? History.Epochs[^1].Elapsed : TimeSpan.Zero;
        Span<double> metrics = stackalloc double[2];
        StoppedEarly = false;

        while (Epoch < Options.Epochs)
        {
            int epoch = Epoch + 1;
            for (int i = 0; i < n; i++) order[i] = i;
            if (Options.Shuffle) Random.Shuffle(order.AsSpan());
            double lossSum = 0, correctSum = 0;
            int steps = 0;
            for (int start = 0; start < n; start += globalBatch)
            {
                int count = Math.Min(globalBatch, n - start);
                var (offset, local) = DataParallel<T>.Shard(count, rank, size);
                double localLoss = 0;
                int localCorrect = 0;
                if (local > 0)
                {
                    var (x, y) = GetBatch(local, inputs);
                    Gather(inputs, labels, order.AsSpan(start + offset, local), x, y);
                    Model.ZeroGrad();
                    var output = Model.Forward(x, training: true);
                    localLoss = double.CreateChecked(Loss.Forward(output, y));
                    localCorrect = CountCorrect(output, y);
                }
                metrics[0] = localLoss * local;
                metrics[1] = localCorrect;
                Communicator.AllReduceSumOrdered(metrics);
                double batchLoss = metrics[0] / count;
                Iteration++;
                steps++;
                if (!double.IsFinite(batchLoss))
                    throw new InvalidOperationException(
                        $"DistributedTrainer: the loss became {batchLoss.ToString(CultureInfo.InvariantCulture)} at epoch {epoch}, step {Iteration}; training stopped on every rank.");
                lossSum += metrics[0];
                correctSum += metrics[1];

                if (Schedule is { RequiresLoss: true, Interval: ScheduleInterval.Iteration })
                {
                    var decision = Schedule.Step(batchLoss);
                    if (decision == ScheduleDecision.WorsenedUndo)
                    {
                        // Back to the weights of the reference loss; this batch's gradient belongs to the rejected weights.
                        Copy(_undoWeights!, toParameters: true);
                        Optimizer.ResetState();
                        continue;
                    }
                    if (undo) Copy(_undoWeights!, toParameters: false);
                }

                if (local > 0) Model.Backward(Loss.Backward());
                DataParallel.AllReduceGradients(local, count);
                Optimizer.Step();
                if (Schedule is { RequiresLoss: false, Interval: ScheduleInterval.Iteration }) Schedule.Step();
                if (Options.VerifyWeightsEveryStep) DataParallel.VerifyParametersIdentical(epoch, Iteration);
            }

            double trainLoss = lossSum / n, trainAccuracy = correctSum / n;
            var (valLoss, valAccuracy) = validationInputs is null ? (double.NaN, double.NaN) : Evaluate(validationInputs, validationLabels!);
            double monitored = validationInputs is null ? trainLoss : valLoss;
            double usedRate = Optimizer.LearningRate;
            Epoch = epoch;
            // Rank 0's clock, so that every rank's history is identical.
            Span<long> ticks = [(elapsedBefore + watch.Elapsed).Ticks];
            Communicator.Broadcast(ticks);
            var record = new EpochRecord(epoch, steps, trainLoss, trainAccuracy, valLoss, valAccuracy, usedRate, TimeSpan.FromTicks(ticks[0]));
            History.Add(record);

            if (Schedule is { Interval: ScheduleInterval.Epoch })
            {
                if (!Schedule.RequiresLoss) Schedule.Step();
                else if (Schedule.Step(monitored) == ScheduleDecision.WorsenedUndo)
                {
                    Copy(_undoWeights!, toParameters: true);
                    Optimizer.ResetState();
                }
                else if (undo) Copy(_undoWeights!, toParameters: false);
            }

            bool stop = false;
            if (Options.EarlyStoppingPatience > 0)
            {
                if (monitored < bestLoss)
                {
                    bestLoss = monitored;
                    epochsWithoutImprovement = 0;
                    Copy(_bestWeights!, toParameters: false);
                }
                else if (++epochsWithoutImprovement >= Options.EarlyStoppingPatience)
                {
                    Copy(_bestWeights!, toParameters: true);
                    stop = true;
                }
            }
            DataParallel.VerifyParametersIdentical($"the end of epoch {epoch}");
            if (Options.CheckpointPath is { } path && Communicator.IsRoot && (epoch % Options.CheckpointEvery == 0 || epoch == Options.Epochs || stop))
                Snapshot(modelHash, bestLoss, epochsWithoutImprovement).Save(path);
            progress?.Report(record);
            if (stop)
            {
                StoppedEarly = true;
                break;
            }
        }
        // Nobody leaves before rank 0 has finished its last checkpoint.
        Communicator.Barrier();
        return History;
    }

    /// <summary>Loss and accuracy over a data set, each rank evaluating its contiguous shard, reduced in rank order.</summary>
    /// <param name="inputs">The inputs (N, …).</param>
    /// <param name="labels">The labels.</param>
    /// <returns>The mean loss and the accuracy over all N examples, identical on every rank.</returns>
    public (double Loss, double Accuracy) Evaluate(NdArray<T> inputs, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        CheckData(inputs, labels, "evaluation");
        int n = inputs.Dim(0);
        var (offset, count) = DataParallel<T>.Shard(n, Communicator.Rank, Communicator.Size);
        Span<double> sums = stackalloc double[2];
        sums.Clear();
        int chunk = Options.EvaluationBatchSize;
        int rowLength = inputs.Length / n;
        for (int s = 0; s < count; s += chunk)
        {
            int b = Math.Min(chunk, count - s);
            var x = new NdArray<T>(inputs.Data.AsSpan((offset + s) * rowLength, b * rowLength).ToArray(), [b, .. inputs.Shape[1..]]);
            var y = labels.AsSpan(offset + s, b);
            var output = Model.Forward(x, training: false);
            sums[0] += double.CreateChecked(Loss.Forward(output, y)) * b;
            sums[1] += CountCorrect(output, y);
        }
        Communicator.AllReduceSumOrdered(sums);
        return (sums[0] / n, sums[1] / n);
    }

    private bool TryResume(string modelHash, ref double bestLoss, ref int epochsWithoutImprovement)
    {
        if (!Options.Resume) return false;
        byte[] bytes = [];
        Span<long> length = [-1];
        if (Communicator.IsRoot && File.Exists(Options.CheckpointPath))
        {
            bytes = File.ReadAllBytes(Options.CheckpointPath!);
            length[0] = bytes.Length;
        }
        Communicator.Broadcast(length);
        if (length[0] < 0) return false;
        if (!Communicator.IsRoot) bytes = new byte[length[0]];
        Communicator.Broadcast<byte>(bytes);
        var c = DistributedCheckpoint<T>.Parse(bytes, Options.CheckpointPath!, _parameterLengths, _optimizerLengths);
        if (c.ModelHash != modelHash)
            throw new InvalidDataException(
                $"Checkpoint '{Options.CheckpointPath}': it was written for model/optimizer hash {c.ModelHash}, this run has {modelHash}; resume with the same model and optimizer settings.");
        var parameters = Model.Parameters;
        for (int i = 0; i < parameters.Count; i++) c.Parameters[i].CopyTo(parameters[i].Value.Data, 0);
        var optimizerParameters = Optimizer.Parameters;
        var tensors = c.OptimizerTensors.ToDictionary(
            s => s.Name,
            s => (IReadOnlyList<NdArray<T>>)s.Tensors.Select((b, i) => new NdArray<T>(b, optimizerParameters[i].Value.ShapeArray())).ToArray(),
            StringComparer.Ordinal);
        try
        {
            Optimizer.SetState(new OptimizerState<T>(c.OptimizerKind, c.OptimizerScalars, tensors));
            Schedule?.SetState(c.ScheduleState);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Checkpoint '{Options.CheckpointPath}': {e.Message}", e);
        }
        Random.SetState(c.RandomState);
        Epoch = c.EpochsCompleted;
        Iteration = c.Iteration;
        bestLoss = c.BestLoss;
        epochsWithoutImprovement = c.EpochsWithoutImprovement;
        if (_bestWeights is not null && c.BestWeights.Count > 0) for (int i = 0; i < _bestWeights.Length; i++) c.BestWeights[i].CopyTo(_bestWeights[i], 0);
        if (_undoWeights is not null)
        {
            if (c.UndoWeights.Count > 0) for (int i = 0; i < _undoWeights.Length; i++) c.UndoWeights[i].CopyTo(_undoWeights[i], 0);
            else Copy(_undoWeights, toParameters: false);
        }
        History.TruncateAfter(-1);
        foreach (var e in c.Epochs) History.Add(e);
        return true;
    }

    private DistributedCheckpoint<T> Snapshot(string modelHash, double bestLoss, int epochsWithoutImprovement)
    {
        var state = Optimizer.GetState();
        var optimizerTensors = state.Tensors.Select(kv => (kv.Key, (IReadOnlyList<T[]>)kv.Value.Select(t => t.Data).ToArray())).ToArray();
        return new DistributedCheckpoint<T>
        {
            ModelHash = modelHash,
            EpochsCompleted = Epoch,
            Iteration = Iteration,
            RandomState = Random.GetState(),
            OptimizerKind = state.Kind,
            OptimizerScalars = state.Scalars,
            ScheduleState = Schedule?.GetState() ?? new Dictionary<string, double>(),
            BestLoss = bestLoss,
            EpochsWithoutImprovement = epochsWithoutImprovement,
            Epochs = [.. History.Epochs],
            Parameters = Model.Parameters.Select(p => p.Value.Data).ToArray(),
            OptimizerTensors = optimizerTensors,
            BestWeights = _bestWeights ?? [],
            UndoWeights = _undoWeights ?? [],
        };
    }

    private string DescribeModelAndOptimizer()
    {
        var text = new StringBuilder(DataParallel<T>.DescribeModel(Model));
        text.Append(CultureInfo.InvariantCulture, $"loss {Loss.GetType().FullName}\n");
        // The optimizer's kind, settings and groups; the rates are the current ones (a schedule wrote its step-0 rates).
        text.Append("optimizer ").Append(Optimizer.ToString()).Append('\n');
        text.Append("schedule ").Append(Schedule is null ? "none" : $"{Schedule.Kind} {Schedule.Interval} steps {Schedule.StepCount.ToString(CultureInfo.InvariantCulture)}").Append('\n');
        return text.ToString();
    }

    private static string DescribeData(NdArray<T> inputs, int[] labels)
    {
        // The inputs' bits and the labels: ranks that loaded different files, or preprocessed them differently, disagree here.
        var hash = new IncrementalHashBuilder();
        hash.Add(MemoryMarshal.AsBytes(inputs.AsSpan()));
        hash.Add(MemoryMarshal.AsBytes(labels.AsSpan()));
        return $"{inputs.ShapeString} sha256 {hash.Finish()}";
    }

    private static void CheckData(NdArray<T> inputs, int[] labels, string what)
    {
        if (inputs.Rank < 2)
            throw new ArgumentException($"DistributedTrainer: the {what} inputs must have a batch dimension, got shape {inputs.ShapeString}.", nameof(inputs));
        if (inputs.Dim(0) != labels.Length)
            throw new ArgumentException($"DistributedTrainer: {inputs.Dim(0)} {what} inputs but {labels.Length} labels.", nameof(labels));
    }

    private (NdArray<T> X, int[] Y) GetBatch(int count, NdArray<T> inputs)
    {
        if (!_batches.TryGetValue(count, out var batch))
        {
            batch = (new NdArray<T>([count, .. inputs.Shape[1..]]), new int[count]);
            _batches[count] = batch;
        }
        return batch;
    }

    private static void Gather(NdArray<T> inputs, int[] labels, ReadOnlySpan<int> rows, NdArray<T> x, int[] y)
    {
        int rowLength = x.Length / rows.Length;
        var source = inputs.Data.AsSpan();
        var target = x.Data.AsSpan();
        for (int i = 0; i < rows.Length; i++)
        {
            source.Slice(rows[i] * rowLength, rowLength).CopyTo(target.Slice(i * rowLength, rowLength));
            y[i] = labels[rows[i]];
        }
    }

    private static int CountCorrect(NdArray<T> output, ReadOnlySpan<int> labels)
    {
        int rows = output.Dim(0), classes = output.Length / rows, correct = 0;
        var data = output.Data.AsSpan();
        for (int i = 0; i < rows; i++)
        {
            var row = data.Slice(i * classes, classes);
            int best = 0;
            for (int k = 1; k < classes; k++) if (row[k] > row[best]) best = k;
            if (best == labels[i]) correct++;
        }
        return correct;
    }

    private T[][] AllocateCopies() => _parameterLengths.Select(l => new T[l]).ToArray();

    private void Copy(T[][] copies, bool toParameters)
    {
        var parameters = Model.Parameters;
        for (int i = 0; i < copies.Length; i++)
        {
            if (toParameters) copies[i].CopyTo(parameters[i].Value.Data, 0);
            else parameters[i].Value.Data.CopyTo(copies[i], 0);
        }
    }

    private sealed class IncrementalHashBuilder
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public void Add(ReadOnlySpan<byte> data) => _hash.AppendData(data);

        public string Finish() => Convert.ToHexString(_hash.GetHashAndReset())[..16].ToLowerInvariant();
    }
}
