using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using NeuralNet.Evaluation;
using NeuralNet.Kernels;
using NeuralNet.Losses;
using NeuralNet.Modules;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Training;

/// <summary>
/// Trains a model by mini-batch SGD on class labels or on float targets: shuffles every epoch from a seeded generator, steps an
/// optimizer and a schedule, evaluates validation data, records a <see cref="History"/>, runs callbacks, and stops with a
/// <see cref="TrainingDivergedException"/> on NaN or infinity.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>One step on a batch (x: (B, …), labels: B): <c>y = model.Forward(x, training: true)</c>; check y is finite;
/// <c>loss.Forward(y, labels)</c>; zero the gradients; <c>model.Backward(loss.Backward())</c>; optional gradient clipping
/// (<see cref="TrainerOptions.ClipGradientValue"/>, then <see cref="TrainerOptions.ClipGradientNorm"/>); <c>optimizer.Step()</c>.
/// Training accuracy counts rows whose arg-max of y equals the label.</para>
/// <para>Float targets (B, K) of the model's output shape — regression values, several outputs, one-hot or soft labels — go
/// through <see cref="Fit(NdArray{T}, NdArray{T}, TrainerOptions, NdArray{T}, NdArray{T}, IProgress{TrainingProgress}, CancellationToken)"/>
/// and <c>loss.Forward(y, targets)</c> with any loss (<see cref="MseLoss{T}"/>, or <see cref="SoftmaxCrossEntropyLoss{T}"/> on
/// soft labels). The history then also holds MSE, MAE and R² (<see cref="EpochRecord.TrainingRegression"/>), and accuracy compares
/// the arg-max of output and target (NaN for a single output).</para>
/// <para>Batch buffers are allocated once per distinct batch size and reused, so after the first epoch a step allocates
/// nothing in the trainer (the modules keep their own buffers per batch size).</para>
/// <para>Determinism: all randomness (shuffling, sampling) comes from <see cref="Random"/>; the loop is sequential and the
/// kernels are bit-identical at any <see cref="NeuralNetSettings.MaxDegreeOfParallelism"/>, so the same seed, data and settings
/// give bit-identical weights.</para>
/// <para>Schedules: a closed-form schedule with <see cref="ScheduleInterval.Epoch"/> is stepped after every epoch, with
/// <see cref="ScheduleInterval.Iteration"/> after every step. A loss-driven schedule (Bold Driver) at epoch interval gets the
/// monitored loss (<see cref="TrainerOptions.ScheduleMonitor"/>) after every epoch; at iteration interval it gets each batch's
/// loss before that batch's update (the loss measured at the weights the previous step produced), so the new rate applies
/// to the step. When it answers <see cref="ScheduleDecision.WorsenedUndo"/>, the trainer restores the parameters at which the
/// reference loss was measured, clears the optimizer's state (<see cref="Optimizer{T}.ResetState"/>: momentum, moments) and
/// skips that batch's update (<see cref="IterationRecord.Undone"/>).</para>
/// <para>A trainer keeps its epoch and iteration counts and its <see cref="History"/> across <c>Fit</c> calls, so calling
/// <c>Fit</c> again (on the same or more data) continues training.</para>
/// <para>Data parallelism is a <see cref="Strategy"/> (<see cref="TrainingStrategy{T}"/>): with N ranks each trains on its slice
/// of every global batch of N·<see cref="TrainerOptions.BatchSize"/> examples, and the losses, counts, metrics and gradients are
/// reduced across ranks before anything decides on them, so N ranks take the same steps as one process with the global batch.
/// The default strategy (one process) leaves this loop exactly as it is.</para>
/// <para>Not thread-safe; while it trains, nothing else may use the model.</para>
/// </remarks>
public sealed class Trainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Dictionary<int, BatchBuffers> _batchBuffers = [];
    private readonly RegressionAccumulator _trainMetrics = new(), _evalMetrics = new();
    private readonly Dictionary<int, NdArray<T>> _augmentedBuffers = [];
    private ParameterSnapshot<T>? _undoSnapshot;
    private bool _stopRequested;
    private double? _clipNorm, _clipValue;
    private int[] _perExampleShape = [];
    // The per-step figures a data-parallel strategy sums across ranks: loss·n, correct, diverged, cancelled, stop requested,
    // and rank 0's clock (the others add 0), so every rank's history holds the same times.
    private readonly double[] _stepFigures = new double[6];
    private long _fitStart;
    private TimeSpan _rootElapsed;
    private bool _parallel;

    /// <summary>Creates a trainer.</summary>
    /// <param name="model">The model to train; its output must be (N, classes).</param>
    /// <param name="loss">The loss on the model's output.</param>
    /// <param name="optimizer">The optimizer; it must step the model's parameters. Its attached schedule, if any
    /// (<see cref="Optimizer.Schedule"/>), is the trainer's <see cref="Schedule"/>.</param>
    /// <param name="random">The generator for shuffling and sampling; defaults to <c>new RandomGenerator(0)</c>.</param>
    public Trainer(Module<T> model, Loss<T> loss, Optimizer<T> optimizer, RandomGenerator? random = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        Model = model;
        Loss = loss;
        Optimizer = optimizer;
        Random = random ?? new RandomGenerator(0);
    }

    /// <summary>The model being trained.</summary>
    public Module<T> Model { get; }

    /// <summary>The loss.</summary>
    public Loss<T> Loss { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer<T> Optimizer { get; }

    /// <summary>The learning-rate schedule attached to the optimizer (it owns the rates), or null: the rates stay as set.</summary>
    public LearningRateSchedule? Schedule => Optimizer.Schedule;

    /// <summary>The generator used for shuffling and sampling (its state is saved in checkpoints).</summary>
    public RandomGenerator Random { get; }

    /// <summary>How the training is spread over processes; <see cref="TrainingStrategy{T}.SingleProcess"/> (the default) trains
    /// in this process alone. A data-parallel strategy (NeuralNet.Distributed's <c>DataParallelStrategy</c>) makes N ranks
    /// train like one process with N times <see cref="TrainerOptions.BatchSize"/>.</summary>
    public TrainingStrategy<T> Strategy
    {
        get;
        init => field = value ?? throw new ArgumentNullException(nameof(value));
    } = TrainingStrategy<T>.SingleProcess;

    /// <summary>The checkpoint this trainer was restored from (path, epoch and iteration), or null; part of the settings the
    /// ranks of a data-parallel run compare.</summary>
    internal string? ResumedFrom { get; set; }

    /// <summary>The callbacks, run in order.</summary>
    public IList<TrainingCallback<T>> Callbacks { get; } = new List<TrainingCallback<T>>();

    /// <summary>The history of every epoch and iteration so far, across <c>Fit</c> calls.</summary>
    public History History { get; private set; } = new();

    /// <summary>The number of completed epochs.</summary>
    public int Epoch { get; private set; }

    /// <summary>The number of iterations (steps, including undone ones) so far.</summary>
    public long Iteration { get; private set; }

    /// <summary>The global gradient norm of the last step before clipping, when <see cref="TrainerOptions.ClipGradientNorm"/> is
    /// set; NaN otherwise.</summary>
    public double LastGradientNorm { get; private set; } = double.NaN;

    /// <summary>The parameters at which a Bold Driver's reference loss was measured, when undo is enabled and one was captured.</summary>
    internal ParameterSnapshot<T>? UndoSnapshot => _undoSnapshot;

    /// <summary>Asks the running <c>Fit</c> to stop after the current epoch (or iteration, when called from <see cref="TrainingCallback{T}.OnIterationEnd"/>).</summary>
    public void RequestStop() => _stopRequested = true;

    /// <summary>Trains for <see cref="TrainerOptions.Epochs"/> epochs.</summary>
    /// <param name="inputs">Training inputs (N, …) whose per-example shape the model accepts.</param>
    /// <param name="labels">N class labels in [0, classes).</param>
    /// <param name="options">The settings.</param>
    /// <param name="validationInputs">Optional validation inputs; takes precedence over <see cref="TrainerOptions.ValidationSplit"/>.</param>
    /// <param name="validationLabels">The validation labels (required with <paramref name="validationInputs"/>).</param>
    /// <param name="progress">Receives a report after every epoch (and every <see cref="TrainerOptions.ProgressEveryIterations"/> steps).</param>
    /// <param name="cancellationToken">Checked before every step; cancellation throws <see cref="OperationCanceledException"/>
    /// and leaves the model at its last completed step and the history up to date.</param>
    /// <returns>The trainer's <see cref="History"/> (all epochs so far, not only this call's).</returns>
    /// <exception cref="ArgumentException">Shapes, labels or settings are invalid, or an input is not finite.</exception>
    /// <exception cref="TrainingDivergedException">A layer's output or the loss became NaN or infinite.</exception>
    public History Fit(NdArray<T> inputs, int[] labels, TrainerOptions options,
        NdArray<T>? validationInputs = null, int[]? validationLabels = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        if ((validationInputs is null) != (validationLabels is null))
            throw new ArgumentException("Trainer.Fit: validation inputs and validation labels must be given together.", nameof(validationLabels));
        return FitCore(inputs, new Targets(labels, null), options, validationInputs,
            validationInputs is null ? default : new Targets(validationLabels, null), progress, cancellationToken);
    }

    /// <summary>Trains on float targets for <see cref="TrainerOptions.Epochs"/> epochs: regression, several outputs, one-hot or soft labels.</summary>
    /// <param name="inputs">Training inputs (N, …) whose per-example shape the model accepts.</param>
    /// <param name="targets">(N, K) targets, K the model's output width; finite.</param>
    /// <param name="options">The settings.</param>
    /// <param name="validationInputs">Optional validation inputs; takes precedence over <see cref="TrainerOptions.ValidationSplit"/>.</param>
    /// <param name="validationTargets">The validation targets (required with <paramref name="validationInputs"/>).</param>
    /// <param name="progress">Receives a report after every epoch (and every <see cref="TrainerOptions.ProgressEveryIterations"/> steps).</param>
    /// <param name="cancellationToken">Checked before every step; cancellation throws <see cref="OperationCanceledException"/>.</param>
    /// <returns>The trainer's <see cref="History"/>; its epochs carry <see cref="EpochRecord.TrainingRegression"/> and
    /// <see cref="EpochRecord.ValidationRegression"/>.</returns>
    /// <remarks>The loss gets each batch's target rows: <c>loss.Forward(y, targets)</c>.</remarks>
    /// <exception cref="ArgumentException">Shapes or settings are invalid, or an input or target is not finite.</exception>
    /// <exception cref="TrainingDivergedException">A layer's output or the loss became NaN or infinite.</exception>
    public History Fit(NdArray<T> inputs, NdArray<T> targets, TrainerOptions options,
        NdArray<T>? validationInputs = null, NdArray<T>? validationTargets = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(options);
        if ((validationInputs is null) != (validationTargets is null))
            throw new ArgumentException("Trainer.Fit: validation inputs and validation targets must be given together.", nameof(validationTargets));
        return FitCore(inputs, new Targets(null, targets), options, validationInputs,
            validationInputs is null ? default : new Targets(null, validationTargets), progress, cancellationToken);
    }

    private History FitCore(NdArray<T> inputs, Targets targets, TrainerOptions options, NdArray<T>? validationInputs, Targets validationTargets,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        options.Validate();
        int classes = CheckData(inputs, targets, "training");
        int n = inputs.Dim(0);
        bool regression = targets.Values is not null;

        // Validation: an explicit set, or the last ⌊split·N⌋ training examples.
        NdArray<T>? valX = null;
        Targets valY = default;
        int valStart = 0, valCount = 0, trainCount = n;
        if (validationInputs is not null)
        {
            CheckData(validationInputs, validationTargets, "validation");
            valX = validationInputs;
            valY = validationTargets;
            valCount = validationInputs.Dim(0);
        }
        else if (options.ValidationSplit > 0)
        {
            valCount = (int)Math.Floor(options.ValidationSplit * n);
            if (valCount < 1 || valCount >= n)
                throw new ArgumentException(
                    $"Trainer.Fit: ValidationSplit {options.ValidationSplit.ToString(CultureInfo.InvariantCulture)} of {n} examples leaves {valCount} for validation and {n - valCount} for training; both need at least 1.",
                    nameof(options));
            trainCount = n - valCount;
            valX = inputs;
            valY = targets;
            valStart = trainCount;
        }
        bool hasValidation = valX is not null;
        if (options.ScheduleMonitor == TrainingMetric.ValidationLoss && !hasValidation && Schedule is { RequiresLoss: true })
            throw new ArgumentException("Trainer.Fit: ScheduleMonitor is ValidationLoss but no validation data were given.", nameof(options));

        int sampleCount = options.SamplesPerEpoch(trainCount);
        // BatchSize is one rank's batch: with N ranks every step trains on a global batch of N·BatchSize examples.
        _parallel = Strategy.WorldSize > 1;
        int batchSize = Math.Min(checked(options.BatchSize * Strategy.WorldSize), sampleCount);
        int batchesPerEpoch = options.BatchesPerEpoch(trainCount, Strategy.WorldSize);
        var order = new int[trainCount];

        bool undo = Schedule is { MayRequestUndo: true };
        if (undo) _undoSnapshot ??= new ParameterSnapshot<T>(Optimizer.Parameters);
        if (options.RecordIterations) History.EnsureIterationCapacity((long)options.Epochs * batchesPerEpoch);
        // Warm the buffers of the two batch sizes up front, so the first epoch's steps allocate no gather buffers.
        GetBatchBuffers(batchSize, regression ? classes : 0);
        if (sampleCount % batchSize != 0) GetBatchBuffers(sampleCount % batchSize, regression ? classes : 0);
        if (_parallel)
        {
            foreach (int global in (ReadOnlySpan<int>)[batchSize, sampleCount % batchSize])
                if (Strategy.Shard(global).Count is var local and > 0) GetBatchBuffers(local, regression ? classes : 0);
            Strategy.OnFitBegin(this, DescribeRun(inputs, targets, valX, valY, valStart, valCount, trainCount, options));
        }

        _stopRequested = false;
        (_clipNorm, _clipValue) = (options.ClipGradientNorm, options.ClipGradientValue);
        long start = Stopwatch.GetTimestamp();
        _fitStart = start;
        for (int c = 0; c < Callbacks.Count; c++) Callbacks[c].OnTrainBegin(this);
        int lastEpoch = Epoch + options.Epochs;
        double lastValLoss = double.NaN, lastValAcc = double.NaN;

        while (Epoch < lastEpoch && !_stopRequested)
        {
            int epoch = Epoch + 1;
            for (int i = 0; i < trainCount; i++) order[i] = i;
            if (sampleCount < trainCount)
            {
                // Partial Fisher–Yates: the first sampleCount entries become a uniform sample without replacement, in random order.
                for (int i = 0; i < sampleCount; i++)
                {
                    int j = i + Random.NextInt(trainCount - i);
                    (order[i], order[j]) = (order[j], order[i]);
                }
            }
            else if (options.Shuffle)
            {
                Random.Shuffle(order.AsSpan());
            }

            double lossSum = 0, lastRate = Optimizer.LearningRate;
            long correctSum = 0, seen = 0;
            if (regression) _trainMetrics.Reset(classes);
            int batchIndex = 0;
            // Under data parallelism a stop requested on one rank is agreed on in the next step's reduction, not here.
            for (int offset = 0; offset < sampleCount && (_parallel || !_stopRequested); offset += batchSize)
            {
                if (!_parallel) cancellationToken.ThrowIfCancellationRequested();
                int b = Math.Min(batchSize, sampleCount - offset);
                double batchLoss, rate;
                int correct;
                bool undone;
                if (_parallel)
                {
                    var local = GatherSlice(inputs, targets, order.AsSpan(offset, b), options.Augmentation, regression ? classes : 0);
                    Iteration++;
                    batchIndex++;
                    bool stop;
                    (batchLoss, correct, undone, rate, stop) = ParallelTrainStep(local, b, epoch, cancellationToken);
                    if (stop)
                    {
                        // Some rank asked to stop: every rank leaves before this step's update.
                        Iteration--;
                        batchIndex--;
                        _stopRequested = true;
                        break;
                    }
                }
                else
                {
                    var batch = GetBatchBuffers(b, regression ? classes : 0);
                    var rows = order.AsSpan(offset, b);
                    Gather(inputs, rows, batch.X.AsSpan());
                    if (regression) Gather(targets.Values!, rows, batch.Targets!.AsSpan());
                    else for (int i = 0; i < b; i++) batch.Labels[i] = targets.Labels![rows[i]];
                    batch.Augmented = options.Augmentation is { } augmentation ? Augment(augmentation, batch.X) : null;
                    Iteration++;
                    batchIndex++;

                    (batchLoss, correct, undone, rate) = TrainStep(batch, epoch);
                }
                lossSum += batchLoss * b;
                correctSum += correct;
                seen += b;

                double iterValLoss = double.NaN, iterValAcc = double.NaN;
                if (hasValidation && options.ValidationEveryIterations > 0 && Iteration % options.ValidationEveryIterations == 0)
                {
                    (iterValLoss, iterValAcc) = EvaluateRange(valX!, valY, valStart, valCount, options.EvaluationBatchSize, classes, null, null, _parallel);
                    lastValLoss = iterValLoss;
                    lastValAcc = iterValAcc;
                }
                lastRate = rate;
                var record = new IterationRecord(epoch, Iteration, batchLoss, Accuracy(correct, b, regression, classes), iterValLoss, iterValAcc,
                    rate, _parallel ? _rootElapsed : Stopwatch.GetElapsedTime(start), undone);
                if (options.RecordIterations) History.Add(record);
                for (int c = 0; c < Callbacks.Count; c++) Callbacks[c].OnIterationEnd(this, record);
                if (progress is not null && options.ProgressEveryIterations > 0 && Iteration % options.ProgressEveryIterations == 0)
                    progress.Report(new TrainingProgress(epoch, lastEpoch, Iteration, batchIndex, batchesPerEpoch, lossSum / seen,
                        Accuracy(correctSum, seen, regression, classes), lastValLoss, lastValAcc, rate, record.Elapsed, false));
            }

            if (_parallel)
            {
                Strategy.OnEpochEnd(this, epoch);
                if (regression) MergeAcrossRanks(_trainMetrics);
            }
            double trainLoss = seen == 0 ? double.NaN : lossSum / seen;
            double trainAcc = seen == 0 ? double.NaN : Accuracy(correctSum, seen, regression, classes);
            double valLoss = double.NaN, valAcc = double.NaN;
            RegressionMetrics? trainRegression = regression ? _trainMetrics.Result() : null, valRegression = null;
            if (hasValidation)
            {
                (valLoss, valAcc) = EvaluateRange(valX!, valY, valStart, valCount, options.EvaluationBatchSize, classes, null, regression ? _evalMetrics : null, _parallel);
                lastValLoss = valLoss;
                lastValAcc = valAcc;
                if (regression) valRegression = _evalMetrics.Result();
            }
            double usedRate = lastRate;
            Epoch = epoch;
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (_parallel)
            {
                // Rank 0's clock on every rank, so that every rank's history is identical.
                Span<double> ticks = [Strategy.WritesFiles ? elapsed.Ticks : 0];
                Strategy.Sum(ticks);
                elapsed = TimeSpan.FromTicks((long)ticks[0]);
            }
            var epochRecord = new EpochRecord(epoch, batchIndex, trainLoss, trainAcc, valLoss, valAcc, usedRate, elapsed)
            {
                TrainingRegression = trainRegression,
                ValidationRegression = valRegression,
            };
            History.Add(epochRecord);
            StepScheduleAtEpochEnd(options, trainLoss, valLoss, hasValidation);
            for (int c = 0; c < Callbacks.Count; c++) Callbacks[c].OnEpochEnd(this, epochRecord);
            progress?.Report(new TrainingProgress(epoch, lastEpoch, Iteration, batchIndex, batchesPerEpoch, trainLoss, trainAcc,
                valLoss, valAcc, usedRate, epochRecord.Elapsed, true));
            if (_parallel) _stopRequested = AnyRank(_stopRequested);
        }
        for (int c = 0; c < Callbacks.Count; c++) Callbacks[c].OnTrainEnd(this);
        if (_parallel) Strategy.OnFitEnd(this);
        return History;
    }

    /// <summary>Evaluates the model: mean loss, accuracy and confusion matrix, in batches, without training.</summary>
    /// <param name="inputs">Inputs (N, …).</param>
    /// <param name="labels">N labels.</param>
    /// <param name="batchSize">Examples per forward pass.</param>
    /// <exception cref="ArgumentException">Shapes or labels are invalid.</exception>
    public EvaluationResult Evaluate(NdArray<T> inputs, int[] labels, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var targets = new Targets(labels, null);
        int classes = CheckData(inputs, targets, "evaluation");
        var matrix = new ConfusionMatrix(classes);
        var (loss, accuracy) = EvaluateRange(inputs, targets, 0, inputs.Dim(0), batchSize, classes, matrix, null);
        return new EvaluationResult(loss, accuracy, matrix);
    }

    /// <summary>Evaluates the model on float targets: mean loss, arg-max accuracy and MSE, MAE and R², in batches, without training.</summary>
    /// <param name="inputs">Inputs (N, …).</param>
    /// <param name="targets">(N, K) targets, K the model's output width.</param>
    /// <param name="batchSize">Examples per forward pass.</param>
    /// <exception cref="ArgumentException">Shapes are invalid or a value is not finite.</exception>
    public TargetEvaluationResult Evaluate(NdArray<T> inputs, NdArray<T> targets, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var t = new Targets(null, targets);
        int outputs = CheckData(inputs, t, "evaluation");
        var (loss, accuracy) = EvaluateRange(inputs, t, 0, inputs.Dim(0), batchSize, outputs, null, _evalMetrics);
        return new TargetEvaluationResult(loss, accuracy, _evalMetrics.Result());
    }

    /// <summary>Restores the counters, history and undo snapshot from a checkpoint (model, optimizer, schedule and generator are
    /// restored by the caller).</summary>
    internal void RestoreProgress(int epoch, long iteration, History history, IReadOnlyList<NdArray<T>>? undoSnapshot)
    {
        Epoch = epoch;
        Iteration = iteration;
        History = history;
        if (undoSnapshot is not null)
        {
            _undoSnapshot ??= new ParameterSnapshot<T>(Optimizer.Parameters);
            _undoSnapshot.Load(undoSnapshot);
        }
    }

    private (double Loss, int Correct, bool Undone, double Rate) TrainStep(BatchBuffers batch, int epoch)
    {
        var x = batch.Augmented ?? batch.X;
        var diverged = ForwardLoss(batch, epoch, out double loss, out int correct);
        if (diverged is not null) throw diverged;
        return Update(loss, correct, x.Dim(0), x.Dim(0));
    }

    /// <summary>One data-parallel step on this rank's slice (null when the slice is empty) of a global batch of
    /// <paramref name="globalCount"/> examples: forward, then one reduction of the step's figures (loss, correct count,
    /// divergence, cancellation, stop requests) so every rank decides the same, then the update.</summary>
    private (double Loss, int Correct, bool Undone, double Rate, bool Stop) ParallelTrainStep(BatchBuffers? batch, int globalCount, int epoch,
        CancellationToken cancellationToken)
    {
        double localLoss = 0;
        int localCorrect = 0, localCount = 0;
        TrainingDivergedException? diverged = null;
        if (batch is not null)
        {
            localCount = batch.X.Dim(0);
            diverged = ForwardLoss(batch, epoch, out localLoss, out localCorrect);
        }
        var f = _stepFigures;
        f[0] = diverged is null ? localLoss * localCount : 0;
        f[1] = localCorrect;
        f[2] = diverged is null ? 0 : 1;
        f[3] = cancellationToken.IsCancellationRequested ? 1 : 0;
        f[4] = _stopRequested ? 1 : 0;
        f[5] = Strategy.WritesFiles ? Stopwatch.GetElapsedTime(_fitStart).Ticks : 0;
        Strategy.Sum(f);
        _rootElapsed = TimeSpan.FromTicks((long)f[5]);
        if (f[2] > 0) throw Strategy.ShareDivergence(diverged);
        if (f[3] > 0)
        {
            // Cancelled on some rank: every rank stops before this step's update, at its last completed step.
            Iteration--;
            throw new OperationCanceledException(
                "Trainer.Fit: training was cancelled on a rank; every rank stopped at its last completed step.",
                cancellationToken.IsCancellationRequested ? cancellationToken : CancellationToken.None);
        }
        if (f[4] > 0) return (0, 0, false, Optimizer.LearningRate, true);
        var (loss, correct, undone, rate) = Update(f[0] / globalCount, (int)f[1], localCount, globalCount);
        return (loss, correct, undone, rate, false);
    }

    /// <summary>Forward pass and loss of a batch; returns the divergence (non-finite output or loss) instead of throwing it.</summary>
    private TrainingDivergedException? ForwardLoss(BatchBuffers batch, int epoch, out double loss, out int correct)
    {
        var x = batch.Augmented ?? batch.X;
        loss = double.NaN;
        correct = 0;
        NdArray<T> output;
        try
        {
            output = Model.Forward(x, training: true);
        }
        catch (ArgumentException e)
        {
            // Modules reject non-finite inputs; find which layer produced them.
            var diverged = Diverged(x, epoch, null, e);
            if (diverged is null) throw;
            return diverged;
        }
        if (!Finiteness.AllFinite<T>(output.AsSpan()))
            return Diverged(x, epoch, null, null) ?? new TrainingDivergedException(
                $"Training diverged at epoch {epoch}, iteration {Iteration}: the model output is not finite.", epoch, Iteration, -2, Model.Name);
        loss = double.CreateTruncating(batch.Targets is { } t ? Loss.Forward(output, t) : Loss.Forward(output, batch.Labels));
        if (!double.IsFinite(loss))
            return new TrainingDivergedException(
                $"Training diverged at epoch {epoch}, iteration {Iteration}: every layer output is finite but {Loss.Name} returned {loss.ToString(CultureInfo.InvariantCulture)}.",
                epoch, Iteration, -2, Loss.Name);
        correct = CountCorrect(output, batch);
        if (batch.Targets is not null) _trainMetrics.Add<T>(output.AsSpan(), batch.Targets.AsSpan(), x.Dim(0));
        return null;
    }

    /// <summary>The schedule, backward pass, gradient reduction, clipping and optimizer step of a batch whose (global) loss is
    /// <paramref name="loss"/>; this process trained on <paramref name="localCount"/> of its <paramref name="globalCount"/> examples.</summary>
    private (double Loss, int Correct, bool Undone, double Rate) Update(double loss, int correct, int localCount, int globalCount)
    {
        if (Schedule is { RequiresLoss: true, Interval: ScheduleInterval.Iteration })
        {
            var decision = Schedule.Step(loss);
            if (decision == ScheduleDecision.WorsenedUndo)
            {
                // Back to the weights of the reference loss; the gradient of this batch belongs to the rejected weights.
                _undoSnapshot!.Restore();
                Optimizer.ResetState();
                return (loss, correct, true, Optimizer.LearningRate);
            }
            if (_undoSnapshot is not null && decision is ScheduleDecision.None or ScheduleDecision.Improved or ScheduleDecision.Worsened)
                _undoSnapshot.Capture();
        }

        Optimizer.ZeroGrad();
        if (_parallel)
        {
            Strategy.BeginBackward();
            if (localCount > 0)
            {
                var dy = Loss.Backward();
                // The loss is the mean over this rank's slice; weighted by its share of the global batch, the ranks'
                // gradients add up to the gradient of the global-batch mean.
                if (localCount != globalCount)
                    TensorPrimitives.Multiply<T>(dy.AsSpan(), T.CreateChecked((double)localCount / globalCount), dy.AsSpan());
                Model.Backward(dy);
            }
            Strategy.ReduceGradients(localCount, globalCount);
        }
        else
        {
            Model.Backward(Loss.Backward());
        }
        // Between the backward pass and the update; value first, so the norm measures (and scales) the clamped gradient.
        if (_clipValue is { } clipValue) GradientClipping.ClipByValue(Optimizer.Parameters, clipValue);
        if (_clipNorm is { } clipNorm) LastGradientNorm = GradientClipping.ClipByNorm(Optimizer.Parameters, clipNorm);
        Optimizer.Step();
        double usedRate = Optimizer.LearningRate;

        if (Schedule is { RequiresLoss: false, Interval: ScheduleInterval.Iteration }) Schedule.Step();
        return (loss, correct, false, usedRate);
    }

    /// <summary>Gathers this rank's slice of a global batch (rows of the shuffled order) into the buffers of its size; null when
    /// the slice is empty. With augmentation the whole global batch is warped first, so the generator advances by the same
    /// draws on every rank and each example gets the transform one process would give it.</summary>
    private BatchBuffers? GatherSlice(NdArray<T> inputs, Targets targets, ReadOnlySpan<int> rows, NeuralNet.Data.ImageAugmentation? augmentation, int targetWidth)
    {
        var (offset, count) = Strategy.Shard(rows.Length);
        NdArray<T>? warped = null;
        if (augmentation is not null)
        {
            var global = GetBatchBuffers(rows.Length, 0);
            Gather(inputs, rows, global.X.AsSpan());
            warped = Augment(augmentation, global.X);
        }
        if (count == 0) return null;
        var batch = GetBatchBuffers(count, targetWidth);
        var slice = rows.Slice(offset, count);
        if (warped is not null)
        {
            int rowLength = warped.Length / rows.Length;
            warped.AsSpan().Slice(offset * rowLength, count * rowLength).CopyTo(batch.X.AsSpan());
        }
        else
        {
            Gather(inputs, slice, batch.X.AsSpan());
        }
        if (targets.Values is { } values) Gather(values, slice, batch.Targets!.AsSpan());
        else for (int i = 0; i < count; i++) batch.Labels[i] = targets.Labels![slice[i]];
        batch.Augmented = null;
        return batch;
    }

    /// <summary>True on every rank when <paramref name="flag"/> is true on any rank.</summary>
    private bool AnyRank(bool flag)
    {
        Span<double> f = [flag ? 1 : 0];
        Strategy.Sum(f);
        return f[0] > 0;
    }

    /// <summary>Replaces this rank's regression sums by the merge of every rank's, in rank order.</summary>
    private void MergeAcrossRanks(RegressionAccumulator metrics)
    {
        var mine = new double[metrics.StateLength];
        metrics.Export(mine);
        var all = new double[mine.Length * Strategy.WorldSize];
        Strategy.Gather(mine, all);
        metrics.MergeFrom(all, Strategy.WorldSize);
    }

    /// <summary>Every setting that changes the result of a <c>Fit</c> call, named, for the ranks of a data-parallel run to compare
    /// before they train: a rank started with other settings, data or generator state stops every rank, naming what differs.</summary>
    private List<KeyValuePair<string, string>> DescribeRun(NdArray<T> inputs, Targets targets, NdArray<T>? valX, Targets valY, int valStart, int valCount,
        int trainCount, TrainerOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        var settings = new List<KeyValuePair<string, string>>();
        void Add(string name, string? value) => settings.Add(new(name, value ?? "none"));
        Add("trainer call", "Trainer.Fit");
        Add("ranks", Strategy.WorldSize.ToString(inv));
        Add("element type", typeof(T).Name);
        Add("model", Model.ToString());
        Add("parameters", string.Join(", ", Model.Parameters.Select(p => p.Name + p.Value.ShapeString)));
        Add("buffers", string.Join(", ", Model.Buffers.Select(b => b.Name + b.Value.ShapeString)));
        Add("loss", Loss.GetType().FullName + " " + Loss.Name);
        Add("optimizer", Optimizer.ToString());
        Add("schedule", Schedule is null ? null : DescribeSchedule(Schedule));
        Add("options", (options with { Epochs = options.Epochs }).ToString());
        // Callbacks that keep training state (early stopping, which also restores weights) must be alike on every rank; others
        // (progress output, a stop request on one rank, which every rank then follows) may differ.
        Add("checkpointed callbacks", string.Join(", ", Callbacks.Where(c => c is ICheckpointedCallback<T>).Select(c => c.GetType().FullName)));
        Add("generator state", string.Join(" ", Random.GetState().Select(w => w.ToString("x16", inv))));
        Add("resumed from", ResumedFrom);
        Add("epoch", Epoch.ToString(inv));
        Add("iteration", Iteration.ToString(inv));
        Add("training data", $"{inputs.ShapeString}, {trainCount} for training, {HashData(inputs, targets, 0, inputs.Dim(0))}");
        Add("validation data", valX is null ? null : $"{valX.ShapeString} rows {valStart}..{valStart + valCount}, {HashData(valX, valY, valStart, valCount)}");
        return settings;
    }

    private static string DescribeSchedule(LearningRateSchedule schedule)
    {
        var text = new System.Text.StringBuilder(schedule.ToString()).Append(' ').Append(schedule.Interval);
        // The schedule's own parameters (decay, step size, increase/decrease factors, …), read from its public properties.
        foreach (var property in schedule.GetType().GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && (p.PropertyType.IsPrimitive || p.PropertyType.IsEnum || p.PropertyType == typeof(string)))
            .OrderBy(p => p.Name, StringComparer.Ordinal))
            text.Append(' ').Append(property.Name).Append('=').Append(Convert.ToString(property.GetValue(schedule), CultureInfo.InvariantCulture));
        foreach (var (key, value) in schedule.GetState().OrderBy(kv => kv.Key, StringComparer.Ordinal))
            text.Append(' ').Append(key).Append('=').Append(value.ToString("R", CultureInfo.InvariantCulture));
        return text.ToString();
    }

    private static string HashData(NdArray<T> inputs, Targets targets, int start, int count)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        int rowLength = inputs.Length / inputs.Dim(0);
        hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(inputs.AsSpan().Slice(start * rowLength, count * rowLength)));
        if (targets.Labels is { } labels) hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(labels.AsSpan(start, count)));
        if (targets.Values is { } values)
        {
            int width = values.Dim(1);
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan().Slice(start * width, count * width)));
        }
        return "sha256 " + Convert.ToHexString(hash.GetHashAndReset())[..16].ToLowerInvariant();
    }

    private void StepScheduleAtEpochEnd(TrainerOptions options, double trainLoss, double valLoss, bool hasValidation)
    {
        if (Schedule is null || Schedule.Interval != ScheduleInterval.Epoch) return;
        if (!Schedule.RequiresLoss)
        {
            Schedule.Step();
        }
        else
        {
            double monitored = options.ScheduleMonitor switch
            {
                TrainingMetric.TrainingLoss => trainLoss,
                TrainingMetric.ValidationLoss => valLoss,
                _ => hasValidation ? valLoss : trainLoss,
            };
            var decision = Schedule.Step(monitored);
            if (decision == ScheduleDecision.WorsenedUndo)
            {
                _undoSnapshot!.Restore();
                Optimizer.ResetState();
            }
            else if (_undoSnapshot is not null && decision is ScheduleDecision.None or ScheduleDecision.Improved or ScheduleDecision.Worsened)
            {
                _undoSnapshot.Capture();
            }
        }
    }

    private (double Loss, double Accuracy) EvaluateRange(NdArray<T> inputs, Targets targets, int start, int count, int batchSize, int classes,
        ConfusionMatrix? matrix, RegressionAccumulator? metrics, bool sharded = false)
    {
        double lossSum = 0;
        long correct = 0;
        bool lossFinite = true;
        bool regression = targets.Values is not null;
        metrics?.Reset(classes);
        int totalCount = count;
        if (sharded)
        {
            // Each rank evaluates its contiguous slice; the sums are reduced below, so every rank gets the same figures.
            (int sliceOffset, count) = Strategy.Shard(totalCount);
            start += sliceOffset;
        }
        for (int offset = 0; offset < count; offset += batchSize)
        {
            int b = Math.Min(batchSize, count - offset);
            var batch = GetBatchBuffers(b, regression ? classes : 0);
            var x = batch.X;
            int rowLength = x.Length / b;
            inputs.AsSpan().Slice((start + offset) * rowLength, b * rowLength).CopyTo(x.AsSpan());
            if (regression) targets.Values!.AsSpan().Slice((start + offset) * classes, b * classes).CopyTo(batch.Targets!.AsSpan());
            else Array.Copy(targets.Labels!, start + offset, batch.Labels, 0, b);
            var output = Model.Forward(x, training: false);
            if (Finiteness.AllFinite<T>(output.AsSpan()))
                lossSum += double.CreateTruncating(regression ? Loss.Forward(output, batch.Targets!) : Loss.Forward(output, batch.Labels)) * b;
            else
                lossFinite = false;
            if (regression)
            {
                correct += CountCorrect(output, batch);
                metrics?.Add<T>(output.AsSpan(), batch.Targets!.AsSpan(), b);
                continue;
            }
            var o = output.AsSpan();
            var y = batch.Labels;
            for (int i = 0; i < b; i++)
            {
                int predicted = TensorPrimitives.IndexOfMax<T>(o.Slice(i * classes, classes));
                if (predicted == y[i]) correct++;
                matrix?.Add(y[i], predicted);
            }
        }
        if (sharded)
        {
            Span<double> sums = [lossSum, correct, lossFinite ? 0 : 1];
            Strategy.Sum(sums);
            (lossSum, correct, lossFinite) = (sums[0], (long)sums[1], sums[2] == 0);
            if (metrics is not null) MergeAcrossRanks(metrics);
        }
        return (lossFinite ? lossSum / totalCount : double.NaN, Accuracy(correct, totalCount, regression, classes));
    }

    /// <summary>Rows whose arg-max output equals the label, or (with targets) the arg-max target.</summary>
    private static int CountCorrect(NdArray<T> output, BatchBuffers batch)
    {
        int b = output.Dim(0), classes = output.Length / b, correct = 0;
        ReadOnlySpan<T> o = output.AsSpan();
        if (batch.Targets is { } targets)
        {
            ReadOnlySpan<T> t = targets.AsSpan();
            for (int i = 0; i < b; i++)
                if (TensorPrimitives.IndexOfMax(o.Slice(i * classes, classes)) == TensorPrimitives.IndexOfMax(t.Slice(i * classes, classes))) correct++;
            return correct;
        }
        var labels = batch.Labels;
        for (int i = 0; i < b; i++)
            if (TensorPrimitives.IndexOfMax(o.Slice(i * classes, classes)) == labels[i]) correct++;
        return correct;
    }

    /// <summary>Warps the gathered batch into a second buffer of its size (kept per batch size) and returns that buffer.</summary>
    private NdArray<T> Augment(NeuralNet.Data.ImageAugmentation augmentation, NdArray<T> x)
    {
        if (x.Rank != 4)
            throw new ArgumentException($"Trainer.Fit: TrainerOptions.Augmentation needs image inputs (N, C, H, W), got batches of {x.ShapeString}.");
        if (!_augmentedBuffers.TryGetValue(x.Dim(0), out var warped))
        {
            warped = new NdArray<T>(x.ShapeArray());
            _augmentedBuffers[x.Dim(0)] = warped;
        }
        augmentation.Apply(x, warped, Random);
        return warped;
    }

    /// <summary>The accuracy figure: correct / count, or NaN for a single-output model trained on targets (no arg-max to compare).</summary>
    private static double Accuracy(long correct, long count, bool regression, int outputs)
        => regression && outputs < 2 ? double.NaN : (double)correct / count;

    private BatchBuffers GetBatchBuffers(int b, int targetWidth)
    {
        if (!_batchBuffers.TryGetValue(b, out var buffers))
        {
            var shape = new int[_perExampleShape.Length + 1];
            shape[0] = b;
            _perExampleShape.CopyTo(shape, 1);
            buffers = new BatchBuffers(new NdArray<T>(shape), new int[b]);
            _batchBuffers[b] = buffers;
        }
        if (targetWidth > 0 && (buffers.Targets is null || buffers.Targets.Dim(1) != targetWidth))
            buffers.Targets = new NdArray<T>(b, targetWidth);
        return buffers;
    }

    /// <summary>The reused gather buffers of one batch size: inputs, labels and (when training on targets) target rows.</summary>
    private sealed class BatchBuffers(NdArray<T> x, int[] labels)
    {
        public NdArray<T> X { get; } = x;

        public int[] Labels { get; } = labels;

        public NdArray<T>? Targets { get; set; }

        /// <summary>This step's augmented copy of <see cref="X"/>, or null when the step trains on <see cref="X"/> itself.</summary>
        public NdArray<T>? Augmented { get; set; }
    }

    /// <summary>What a data set is trained against: class labels or (N, K) float targets (exactly one is non-null).</summary>
    private readonly record struct Targets(int[]? Labels, NdArray<T>? Values);

    /// <summary>Copies the given rows of <paramref name="source"/> into <paramref name="destination"/>, in order: a shuffled batch's
    /// rows lie at random places in a data set larger than the caches, so the copy runs on the kernel threads.</summary>
    private static void Gather(NdArray<T> source, ReadOnlySpan<int> rows, Span<T> destination) =>
        Cpu.GatherRows(destination, source.AsSpan(), destination.Length / rows.Length, rows);

    /// <summary>Validates inputs against the model and labels or targets against its output; returns the number of classes (outputs).</summary>
    private int CheckData(NdArray<T> inputs, Targets targets, string what)
    {
        if (inputs.Rank < 2)
            throw new ArgumentException($"Trainer: {what} inputs must be (N, …) with rank ≥ 2, got {inputs.ShapeString}.", nameof(inputs));
        int n = inputs.Dim(0);
        if (targets.Labels is { } labels && labels.Length != n)
            throw new ArgumentException($"Trainer: {what} inputs have {n} examples but there are {labels.Length} labels.", "labels");
        if (targets.Values is { } values && (values.Rank != 2 || values.Dim(0) != n))
            throw new ArgumentException($"Trainer: {what} targets must be (N, outputs) with N = {n} (the inputs' examples), got {values.ShapeString}.", "targets");
        int[] perExample = inputs.ShapeArray()[1..];
        int[] outShape;
        try
        {
            outShape = Model.GetOutputShape(perExample);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Trainer: {what} inputs {inputs.ShapeString} do not fit the model: {e.Message}", nameof(inputs), e);
        }
        if (outShape.Length != 1)
            throw new ArgumentException($"Trainer: the model's per-example output must be (classes), got {NdArray<T>.ShapeToString(outShape)}.", nameof(inputs));
        int classes = outShape[0];
        if (targets.Labels is { } l)
        {
            for (int i = 0; i < l.Length; i++)
                if ((uint)l[i] >= (uint)classes)
                    throw new ArgumentException($"Trainer: {what} label {l[i]} at index {i} is outside [0, {classes}).", "labels");
        }
        else
        {
            var t = targets.Values!;
            if (t.Dim(1) != classes)
                throw new ArgumentException($"Trainer: {what} targets {t.ShapeString} have {t.Dim(1)} outputs per example but the model outputs {classes}.", "targets");
            int badTarget = Finiteness.FirstNonFinite(t.AsSpan());
            if (badTarget >= 0)
                throw new ArgumentException($"Trainer: {what} target of example {badTarget / classes} (output {badTarget % classes}) is {t.AsSpan()[badTarget]}, not finite.", "targets");
        }
        int bad = Finiteness.FirstNonFinite(inputs.AsSpan());
        if (bad >= 0)
        {
            int rowLength = inputs.Length / n;
            throw new ArgumentException($"Trainer: {what} input of example {bad / rowLength} (element {bad % rowLength}) is {inputs.AsSpan()[bad]}, not finite.", nameof(inputs));
        }
        if (_perExampleShape.Length == 0)
        {
            _perExampleShape = perExample;
        }
        else if (!_perExampleShape.AsSpan().SequenceEqual(perExample))
        {
            _batchBuffers.Clear();
            _augmentedBuffers.Clear();
            _perExampleShape = perExample;
        }
        return classes;
    }

    /// <summary>Finds the first non-finite layer output by re-running the batch layer by layer; null when all are finite.</summary>
    private TrainingDivergedException? Diverged(NdArray<T> x, int epoch, string? extra, Exception? inner)
    {
        string where = $"Training diverged at epoch {epoch}, iteration {Iteration}";
        if (!Finiteness.AllFinite<T>(x.AsSpan()))
            return new TrainingDivergedException($"{where}: the input batch is not finite.", epoch, Iteration, -1, "input", inner);
        IReadOnlyList<Module<T>> layers = Model is Sequential<T> s ? s.Layers : [Model];
        var current = x;
        for (int i = 0; i < layers.Count; i++)
        {
            NdArray<T> output;
            try
            {
                output = layers[i].Forward(current, training: false);
            }
            catch (ArgumentException)
            {
                return null; // a genuine shape error, not divergence
            }
            int bad = Finiteness.FirstNonFinite(output.AsSpan());
            if (bad >= 0)
            {
                string parameters = "";
                foreach (var p in layers[i].Parameters)
                    if (Finiteness.FirstNonFinite(p.Value.AsSpan()) >= 0) { parameters = $"; its parameter '{p.Name}' {p.Value.ShapeString} holds non-finite values"; break; }
                int row = bad / (output.Length / output.Dim(0));
                return new TrainingDivergedException(
                    $"{where}: the output of layer {i} ({layers[i]}) is not finite (first at example {row} of the batch, value {output.AsSpan()[bad]}){parameters}{extra}. " +
                    "Lower the learning rate or check the data.",
                    epoch, Iteration, i, layers[i].ToString() ?? layers[i].Name, inner);
            }
            current = output;
        }
        return null;
    }
}
