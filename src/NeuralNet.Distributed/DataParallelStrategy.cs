using System.Globalization;
using System.Numerics;
using System.Text;
using NeuralNet.Modules;
using NeuralNet.Serialization;
using NeuralNet.Training;

namespace NeuralNet.Distributed;

/// <summary>The settings of a <see cref="DataParallelStrategy{T}"/>. Every rank must use the same values (they are compared
/// at the start of every <c>Fit</c>).</summary>
public sealed record DataParallelOptions
{
    /// <summary>How gradients are summed across ranks. Default <see cref="GradientReduction.Ordered"/> (bit-identical on every
    /// rank and run).</summary>
    public GradientReduction Reduction { get; init; } = GradientReduction.Ordered;

    /// <summary>Compare a checksum of the weights across ranks before every step (one tiny all-gather per step) instead of
    /// once per epoch; a difference stops every rank. Default false.</summary>
    public bool VerifyWeightsEveryStep { get; init; }

    /// <summary>Reduce the gradients in buckets of whole layers (<see cref="GradientBucketReducer{T}"/>), each sent as soon
    /// as its layers' backward passes have finished, on a communication thread, overlapping communication with the backward
    /// pass of the earlier layers (through <see cref="Sequential{T}.LayerBackwardCompleted"/>; the model must be a
    /// <see cref="Sequential{T}"/>). The same bits as the reduction after the backward pass. Default false: one ordered
    /// all-reduce after the backward pass, which costs fewer messages and wins when the network is one bucket or the machine
    /// has no core to spare for the transfer (see docs/distributed.md, "Cost model").</summary>
    public bool OverlapGradientReduction { get; init; }

    /// <summary>The least size of a bucket in bytes when <see cref="OverlapGradientReduction"/> is set. Default
    /// <see cref="GradientBucketReducer{T}.DefaultBucketBytes"/> (64 KiB).</summary>
    public int BucketBytes { get; init; } = 64 * 1024;

    /// <summary>Free text added to the settings the ranks compare, for what the trainer cannot see (data preprocessing,
    /// model preset, …).</summary>
    public string? Description { get; init; }
}

/// <summary>
/// Synchronous data parallelism for <see cref="Trainer{T}"/> over a <see cref="Communicator"/> (MPI ranks, or threads of one
/// process): every rank holds the whole model and data set, trains on its slice of each global batch, and applies the same
/// summed gradient, so all ranks hold bit-identical weights after every step.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Use: <c>new Trainer&lt;float&gt;(model, loss, sgd, random) { Strategy = new DataParallelStrategy&lt;float&gt;(world) }</c>,
/// then <c>Fit</c> on every rank with the same data, options and seed. <see cref="TrainerOptions.BatchSize"/> is the batch B
/// of one rank; the global batch is N·B. Every rank shuffles with the same generator and trains on its contiguous slice of
/// each global batch, so N ranks × B take the same steps as one process with batch N·B (equal to float rounding: one process
/// sums the N·B per-example terms in one GEMM, the ranks per slice and then across ranks in rank order).</para>
/// <para>One step on rank r, global batch of n examples, slice of nᵣ: forward and loss on the slice; one ordered sum of
/// [nᵣ·Lᵣ, correctᵣ, diverged, cancelled, stop requested] gives every rank the global loss L = Σ nᵣ·Lᵣ / n and the same
/// decisions (a NaN, a cancellation or a <see cref="Trainer{T}.RequestStop"/> on any rank stops every rank at the same step);
/// the loss gradient is scaled by nᵣ / n, back-propagated, and the gradients are summed in rank order
/// (<see cref="DataParallel{T}.SumGradients"/>); every rank then clips and steps identically.</para>
/// <para>At the start of every <c>Fit</c> the ranks compare every setting that changes the result (model, loss, optimizer,
/// schedule and its parameters, options, callbacks, the data's hash, the generator's state, the checkpoint the trainer was
/// restored from, and <see cref="DataParallelOptions"/>); a difference stops every rank with a
/// <see cref="ConfigurationMismatchException"/> naming the settings. Then rank 0's parameters and module buffers are sent to
/// every rank. At every epoch's end rank 0's module buffers (e.g. batch-norm running statistics, which each rank updates from
/// its own slice) are sent again and the parameter checksums compared.</para>
/// </remarks>
public sealed class DataParallelStrategy<T> : TrainingStrategy<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private DataParallel<T>? _dataParallel;
    private Trainer<T>? _trainer;
    private GradientBucketReducer<T>? _reducer;
    private Sequential<T>? _reducerModel;
    private Action<int>? _layerHook;

    /// <summary>Creates the strategy.</summary>
    /// <param name="communicator">The ranks; <see cref="MpiCommunicator"/> under mpirun, <see cref="InProcessCommunicator"/> in tests.</param>
    /// <param name="options">The settings; null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="DataParallelOptions.BucketBytes"/> is not positive.</exception>
    public DataParallelStrategy(Communicator communicator, DataParallelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        Communicator = communicator;
        Options = options ?? new DataParallelOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.BucketBytes, 1, "options.BucketBytes");
    }

    /// <summary>The ranks.</summary>
    public Communicator Communicator { get; }

    /// <summary>The settings.</summary>
    public DataParallelOptions Options { get; }

    /// <inheritdoc/>
    public override int Rank => Communicator.Rank;

    /// <inheritdoc/>
    public override int WorldSize => Communicator.Size;

    /// <summary>The gradient and weight synchronization of the last <c>Fit</c> (over the optimizer's parameters), or null before.</summary>
    public DataParallel<T>? DataParallel => _dataParallel;

    /// <summary>The hash of the settings all ranks agreed on at the start of the last <c>Fit</c> (16 hex digits), or null.</summary>
    public string? ConfigurationHash { get; private set; }

    /// <inheritdoc/>
    public override void OnFitBegin(Trainer<T> trainer, IReadOnlyList<KeyValuePair<string, string>> settings)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(settings);
        var check = new ConfigurationCheck();
        foreach (var (name, value) in settings) check.Add(name, value);
        check.Add("gradient reduction", Options.Reduction.ToString())
            .Add("verify weights every step", Options.VerifyWeightsEveryStep)
            .Add("overlap gradient reduction", Options.OverlapGradientReduction)
            .Add("bucket bytes", Options.OverlapGradientReduction ? Options.BucketBytes : 0)
            .Add("description", Options.Description);
        ConfigurationHash = check.Verify(Communicator);

        _trainer = trainer;
        if (_dataParallel is null || !SameParameters(_dataParallel.Parameters, trainer.Optimizer.Parameters))
            _dataParallel = new DataParallel<T>(Communicator, trainer.Optimizer.Parameters, Options.Reduction);
        // Rank 0's weights win: ranks may have initialized their models from different generators.
        _dataParallel.BroadcastParameters();
        BroadcastBuffers(trainer.Model);
        _dataParallel.VerifyParametersIdentical("the start of training");
        if (Options.OverlapGradientReduction) AttachReducer(trainer.Model);
    }

    /// <summary>The bucketed reducer of the last <c>Fit</c> with <see cref="DataParallelOptions.OverlapGradientReduction"/>,
    /// or null.</summary>
    public GradientBucketReducer<T>? BucketReducer => _reducer;

    private void AttachReducer(Module<T> model)
    {
        if (model is not Sequential<T> sequential)
            throw new NotSupportedException($"DataParallelStrategy: OverlapGradientReduction needs a Sequential<{typeof(T).Name}> model (it follows the layers' backward passes), got {model.GetType().Name}.");
        if (!ReferenceEquals(_reducerModel, sequential))
        {
            _reducer?.Dispose();
            _reducer = new GradientBucketReducer<T>(Communicator, sequential, Options.BucketBytes);
            _reducerModel = sequential;
        }
        _layerHook ??= LayerBackwardCompleted;
        sequential.LayerBackwardCompleted = _layerHook;
    }

    /// <inheritdoc/>
    public override void OnFitEnd(Trainer<T> trainer)
    {
        if (_reducerModel is { } model && ReferenceEquals(model.LayerBackwardCompleted, _layerHook))
            model.LayerBackwardCompleted = null;
        // Nobody leaves before rank 0 has written its last checkpoint.
        Communicator.Barrier();
    }

    /// <inheritdoc/>
    public override void Sum(Span<double> values) => Communicator.AllReduceSumOrdered(values);

    /// <inheritdoc/>
    public override void Gather(ReadOnlySpan<double> mine, Span<double> all) => Communicator.AllGather(mine, all);

    /// <inheritdoc/>
    public override byte[] Broadcast(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        Span<long> length = [data.LongLength];
        Communicator.Broadcast(length);
        byte[] result = Communicator.IsRoot ? data : new byte[checked((int)length[0])];
        Communicator.Broadcast<byte>(result);
        return result;
    }

    /// <inheritdoc/>
    /// <remarks>First checks that every rank restores (a rank that restores alone would wait for bytes nobody sends: the
    /// check fails on every rank instead, naming the setting), then rank 0 reads the file and sends either the checkpoint's
    /// bytes or why it could not, so every rank holds the same checkpoint or throws the same <see cref="IOException"/> (missing
    /// or unreadable file) or <see cref="InvalidDataException"/> (not a valid checkpoint).</remarks>
    public override SafeTensorsFile LoadCheckpoint(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        new ConfigurationCheck().Add("trainer call", "TrainingCheckpoint.Restore").Add("resumed from", path).Verify(Communicator);
        // Rank 0 reads the file as one process does (SafeTensorsFile.Load: header first, so a file that is not a checkpoint
        // fails after a few bytes) and sends the checkpoint's bytes, or the kind of failure and its message: 1 I/O, 2 content.
        SafeTensorsFile? file = null;
        byte[] payload = [];
        if (Communicator.IsRoot)
        {
            byte kind = 0;
            string problem = "";
            if (Directory.Exists(path)) (kind, problem) = (1, $"Checkpoint '{path}' is a directory, not a checkpoint file.");
            else if (!File.Exists(path)) (kind, problem) = (1, $"Checkpoint '{path}' does not exist.");
            else
            {
                try
                {
                    file = SafeTensorsFile.Load(path);
                }
                catch (InvalidDataException e)
                {
                    (kind, problem) = (2, e.Message);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    (kind, problem) = (1, $"Checkpoint '{path}' cannot be read: {e.Message}");
                }
            }
            payload = file is not null ? [0, .. file.ToArray()] : [kind, .. Encoding.UTF8.GetBytes(problem)];
        }
        payload = Broadcast(payload);
        string message = payload[0] == 0 ? "" : Encoding.UTF8.GetString(payload, 1, payload.Length - 1);
        return payload[0] switch
        {
            0 => file ?? SafeTensorsFile.Parse(payload[1..], path),
            2 => throw new InvalidDataException(message),
            _ => throw new IOException(message),
        };
    }

    /// <inheritdoc/>
    public override void BeginBackward()
    {
        if (Options.VerifyWeightsEveryStep && _trainer is { } t) _dataParallel!.VerifyParametersIdentical(t.Epoch + 1, t.Iteration);
        // The trainer has zeroed the gradients and scales this rank's loss gradient by its share, so the buckets are only
        // summed; a rank with an empty slice runs no backward pass and contributes its zeroed gradients.
        _reducer?.Begin(1, 1);
    }

    /// <inheritdoc/>
    /// <remarks>With <see cref="DataParallelOptions.OverlapGradientReduction"/>, hands layer <paramref name="layerIndex"/>'s
    /// gradients to the bucketed reducer, which sends a bucket once all of its layers are done.</remarks>
    public override void LayerBackwardCompleted(int layerIndex) => _reducer?.LayerCompleted(layerIndex);

    /// <inheritdoc/>
    public override void ReduceGradients(int localCount, int globalCount)
    {
        if (_reducer is null) _dataParallel!.SumGradients(localCount > 0);
        else _reducer.Complete();
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(Trainer<T> trainer, int epoch)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        BroadcastBuffers(trainer.Model);
        _dataParallel!.VerifyParametersIdentical(string.Create(CultureInfo.InvariantCulture, $"the end of epoch {epoch}"));
    }

    /// <inheritdoc/>
    /// <remarks>Rank r's flag is gathered; the lowest rank that diverged sends its message, epoch, iteration and layer.</remarks>
    public override TrainingDivergedException ShareDivergence(TrainingDivergedException? local)
    {
        var flags = new int[WorldSize];
        Communicator.AllGather<int>([local is null ? 0 : 1], flags);
        int root = Array.IndexOf(flags, 1);
        if (root < 0) throw new InvalidOperationException("DataParallelStrategy: a divergence was reported but no rank holds one.");
        Span<long> numbers = local is null ? [0, 0, 0] : [local.Epoch, local.Iteration, local.LayerIndex];
        Communicator.Broadcast(numbers, root);
        string text = BroadcastText(local is null ? "" : local.Message, root);
        string layer = BroadcastText(local?.LayerName ?? "", root);
        string message = $"{text} (on rank {root} of {WorldSize}; every rank stopped)";
        return new TrainingDivergedException(message, (int)numbers[0], numbers[1], (int)numbers[2], layer, local);
    }

    private string BroadcastText(string text, int root)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        Span<long> length = [bytes.Length];
        Communicator.Broadcast(length, root);
        if (Rank != root) bytes = new byte[length[0]];
        Communicator.Broadcast<byte>(bytes, root);
        return Encoding.UTF8.GetString(bytes);
    }

    private void BroadcastBuffers(Module<T> model)
    {
        foreach (var buffer in model.Buffers) Communicator.Broadcast<T>(buffer.Value.AsSpan());
    }

    private static bool SameParameters(IReadOnlyList<Parameter<T>> a, IReadOnlyList<Parameter<T>> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (!ReferenceEquals(a[i], b[i])) return false;
        return true;
    }
}
