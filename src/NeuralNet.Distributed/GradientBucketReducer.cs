using System.Numerics;
using System.Runtime.ExceptionServices;
using NeuralNet.Modules;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Distributed;

/// <summary>
/// Averages a <see cref="Sequential{T}"/> model's gradients across ranks in buckets of whole layers, each bucket's
/// reduction starting as soon as back-propagation has finished its layers, so communication overlaps the backward pass
/// of the earlier layers (as PyTorch's DistributedDataParallel does). The results are bit-identical to
/// <see cref="DataParallel{T}.AllReduceGradients"/> with <see cref="GradientReduction.Ordered"/>.
/// </summary>
/// <typeparam name="T">The parameter element type.</typeparam>
/// <remarks>
/// <para>One step:</para>
/// <code>
/// model.LayerBackwardCompleted = reducer.LayerCompleted;   // once
/// reducer.Begin(localCount, globalCount);                  // before the backward pass
/// model.Backward(loss.Backward());                         // buckets start while it runs
/// reducer.Complete();                                      // every gradient is now the global average
/// optimizer.Step();
/// </code>
/// <para>Buckets are formed from the last layer to the first (the order back-propagation finishes them): layers are
/// added to a bucket until it holds at least <see cref="BucketBytes"/>, so a layer is never split and a layer larger
/// than the cap is a bucket of its own. A bucket is ready when its lowest-numbered layer has completed.</para>
/// <para>Same bits: each bucket is scaled by nᵣ / n on its rank, like <see cref="DataParallel{T}.AllReduceGradients"/>,
/// and summed with <see cref="Communicator.AllReduceSumOrdered{T}(Span{T})"/>, which adds every element in rank order
/// ((x₀ + x₁) + x₂) + …, independently of how the buffer is cut. Since the scale is applied before the sum, the counts
/// are given to <see cref="Begin"/>, not to <see cref="Complete"/>.</para>
/// <para>Overlap: a dedicated communication thread, started on the first <see cref="Begin"/>, runs the buckets'
/// collectives in order while the calling thread back-propagates; it packs, reduces and writes back each bucket, so
/// <see cref="LayerCompleted"/> only signals it. The last bucket (the first layers, finished when backward ends) is
/// reduced by <see cref="Complete"/> on the calling thread once the others are done: nothing is left to overlap it
/// with, and a hand-off to another thread costs a wake-up. A model with a single bucket therefore uses no thread. Between <see cref="Begin"/> and <see cref="Complete"/> the
/// communicator belongs to that thread: the caller must run no other collective on it meanwhile (MPI is initialized
/// with <c>MPI_THREAD_SERIALIZED</c>, which allows one thread at a time). Where the communicator does not allow
/// collectives on another thread (<see cref="Communicator.CollectivesOnAnyThread"/>), each bucket is reduced on the
/// calling thread when it is ready, with the same results and no overlap. With one rank nothing is communicated.</para>
/// <para>The collective timeout of <see cref="MpiCommunicator"/> applies to every bucket's collectives, on the
/// communication thread: a rank that stops ends the job with the name of the collective and of the missing rank.
/// A failure on the communication thread is rethrown by <see cref="Complete"/>.</para>
/// <para>Buffers are allocated on the first step; later steps allocate nothing.</para>
/// </remarks>
public sealed class GradientBucketReducer<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The default <see cref="BucketBytes"/>: 64 KiB.</summary>
    /// <remarks>The reference networks' gradients are 0.1–1.4 MB, so DDP's 25 MB would make one bucket and no overlap.
    /// 64 KiB splits the convolutional networks where it pays (LeNet-5's dense layers reduce while its convolutions
    /// back-propagate), while every bucket costs two more collectives and a hand-off to the communication thread, so
    /// one bucket per layer is slower (see docs/distributed.md, cost model).</remarks>
    public const int DefaultBucketBytes = 64 * 1024;

    private readonly Bucket[] _buckets;
    private readonly T[] _flat;
    private readonly bool _threaded;
    private readonly int _threadBuckets;   // buckets reduced on the communication thread: all but the last
    private readonly SemaphoreSlim _ready = new(0);
    private readonly ManualResetEventSlim _done = new(false);
    private Thread? _thread;
    private T _scale;
    private bool _empty;
    private bool _active;
    private bool _stopping;
    private bool _disposed;
    private int _released;                 // buckets handed to the communication thread this step
    private int _finished;                 // buckets reduced this step (communication thread)
    private ExceptionDispatchInfo? _failure;

    /// <summary>Groups <paramref name="model"/>'s parameters into buckets of whole layers.</summary>
    /// <param name="communicator">The group of ranks; every rank must build the same model and bucket size.</param>
    /// <param name="model">The model whose <see cref="Sequential{T}.LayerBackwardCompleted"/> will call <see cref="LayerCompleted"/>.</param>
    /// <param name="bucketBytes">The least size of a bucket in bytes; 1 gives one bucket per layer with parameters.</param>
    /// <exception cref="ArgumentException">The model has no parameters, or more than fit one buffer.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bucketBytes"/> is not positive.</exception>
    public GradientBucketReducer(Communicator communicator, Sequential<T> model, int bucketBytes = DefaultBucketBytes)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, 1);
        Communicator = communicator;
        BucketBytes = bucketBytes;
        int elementSize = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var buckets = new List<Bucket>();
        var current = new List<Parameter<T>>();
        long offset = 0, length = 0;
        int lastLayer = -1;
        for (int layer = model.Layers.Count - 1; layer >= 0; layer--)
        {
            var parameters = model.Layers[layer].Parameters;
            if (parameters.Count == 0) continue;
            if (current.Count == 0) lastLayer = layer;
            foreach (var p in parameters)
            {
                current.Add(p);
                length += p.Value.Length;
            }
            if (length * elementSize >= bucketBytes || !HasParametersBelow(model, layer))
            {
                if (offset + length > Array.MaxLength)
                    throw new ArgumentException($"GradientBucketReducer: {offset + length} parameters do not fit one buffer.", nameof(model));
                buckets.Add(new Bucket(layer, lastLayer, (int)offset, (int)length, current.ToArray()));
                offset += length;
                length = 0;
                current.Clear();
            }
        }
        if (buckets.Count == 0) throw new ArgumentException("GradientBucketReducer: the model has no parameters to synchronize.", nameof(model));
        _buckets = buckets.ToArray();
        _flat = new T[offset];
        _threaded = communicator.Size > 1 && communicator.CollectivesOnAnyThread && _buckets.Length > 1;
        _threadBuckets = _threaded ? _buckets.Length - 1 : 0;
        Layout = _buckets.Select(b => (b.FirstLayer, b.LastLayer, b.Length)).ToArray();
    }

    /// <summary>The group of ranks.</summary>
    public Communicator Communicator { get; }

    /// <summary>The least size of a bucket in bytes (a bucket ends with the layer that reaches it).</summary>
    public int BucketBytes { get; }

    /// <summary>The total number of scalar parameters.</summary>
    public int ParameterCount => _flat.Length;

    /// <summary>The buckets in reduction order: the layers each covers (inclusive) and its number of elements.</summary>
    public IReadOnlyList<(int FirstLayer, int LastLayer, int Elements)> Layout { get; }

    /// <summary>True when the buckets but the last are reduced on a communication thread, overlapping the backward
    /// pass; false with one rank, with a single bucket, or with a communicator that allows collectives on its creating
    /// thread only.</summary>
    public bool Overlaps => _threaded;

    /// <summary>Starts a step: the gradients of this rank's nᵣ examples of a global batch of n will be averaged.</summary>
    /// <param name="localCount">nᵣ (0 when this rank's shard is empty: it contributes zeros).</param>
    /// <param name="globalCount">n, the examples of the global batch over all ranks.</param>
    /// <exception cref="ArgumentOutOfRangeException">The counts are negative, or <paramref name="globalCount"/> is not positive or below <paramref name="localCount"/>.</exception>
    /// <exception cref="InvalidOperationException">The previous step was not completed.</exception>
    /// <exception cref="ObjectDisposedException">The reducer was disposed.</exception>
    public void Begin(int localCount, int globalCount)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(localCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(globalCount, Math.Max(1, localCount));
        if (_active) throw new InvalidOperationException("GradientBucketReducer.Begin: the previous step was not completed; call Complete() after each backward pass.");
        // Rounded once to T, as DataParallel.AllReduceGradients does.
        _scale = T.CreateChecked((double)localCount / globalCount);
        _empty = localCount == 0;
        _released = 0;
        _finished = 0;
        _failure = null;
        _done.Reset();
        if (_threaded && _thread is null)
        {
            _thread = new Thread(CommunicationLoop) { IsBackground = true, Name = $"gradient buckets, rank {Communicator.Rank}" };
            _thread.Start();
        }
        _active = true;
    }

    /// <summary>Tells the reducer that layer <paramref name="layerIndex"/>'s gradients are final: starts the reduction of
    /// every bucket whose layers are now all done. Assign it to <see cref="Sequential{T}.LayerBackwardCompleted"/>.</summary>
    /// <param name="layerIndex">The layer just back-propagated; the calls of a step come last layer first.</param>
    /// <exception cref="InvalidOperationException"><see cref="Begin"/> was not called for this step.</exception>
    public void LayerCompleted(int layerIndex)
    {
        if (!_active) throw new InvalidOperationException("GradientBucketReducer.LayerCompleted: call Begin(localCount, globalCount) before the backward pass.");
        Release(layerIndex);
    }

    /// <summary>Reduces any bucket not yet started, waits for all, and leaves every parameter gradient equal on every rank
    /// to the average over the global batch.</summary>
    /// <exception cref="InvalidOperationException"><see cref="Begin"/> was not called for this step.</exception>
    /// <remarks>Rethrows a failure of the communication thread (e.g. <see cref="CommunicatorAbortedException"/>).</remarks>
    public void Complete()
    {
        if (!_active) throw new InvalidOperationException("GradientBucketReducer.Complete: call Begin(localCount, globalCount) before the backward pass.");
        // Buckets whose layers were not reported (no hook attached, or a backward pass that stopped early) go now.
        Release(int.MinValue);
        _active = false;
        if (!_threaded) return;
        _done.Wait();
        _failure?.Throw();
        // The last bucket holds the first layers, done when backward ends: there is nothing left to overlap it with,
        // so it is reduced here, after the communication thread's buckets, without a hand-off to that thread.
        Reduce(_buckets.Length - 1);
    }

    /// <summary>Stops the communication thread. Call it only between steps.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_thread is not null)
        {
            Volatile.Write(ref _stopping, true);
            _ready.Release();
            _thread.Join();
        }
        _ready.Dispose();
        _done.Dispose();
    }

    private void Release(int layerIndex)
    {
        while (_released < _buckets.Length && _buckets[_released].FirstLayer >= layerIndex)
        {
            int b = _released++;
            if (!_threaded) Reduce(b);
            else if (b < _threadBuckets) _ready.Release();
        }
    }

    private void CommunicationLoop()
    {
        while (true)
        {
            _ready.Wait();
            if (Volatile.Read(ref _stopping)) return;
            int b = _finished;
            if (_failure is null)
            {
                try
                {
                    Reduce(b);
                }
                catch (Exception e)
                {
                    _failure = ExceptionDispatchInfo.Capture(e);
                }
            }
            _finished = b + 1;
            if (b + 1 == _threadBuckets) _done.Set();
        }
    }

    /// <summary>Packs bucket <paramref name="b"/> scaled by nᵣ / n, sums it across ranks in rank order, writes it back.</summary>
    private void Reduce(int b)
    {
        var bucket = _buckets[b];
        var flat = _flat.AsSpan(bucket.Offset, bucket.Length);
        if (_empty) flat.Clear();
        else
        {
            int offset = 0;
            foreach (var p in bucket.Parameters)
            {
                var source = p.Gradient.AsSpan();
                var target = flat.Slice(offset, source.Length);
                if (_scale == T.One) source.CopyTo(target);
                else TensorPrimitives.Multiply<T>(source, _scale, target);
                offset += source.Length;
            }
        }
        Communicator.AllReduceSumOrdered<T>(flat);
        int at = 0;
        foreach (var p in bucket.Parameters)
        {
            var target = p.Gradient.AsSpan();
            flat.Slice(at, target.Length).CopyTo(target);
            at += target.Length;
        }
    }

    private static bool HasParametersBelow(Sequential<T> model, int layer)
    {
        for (int i = layer - 1; i >= 0; i--)
            if (model.Layers[i].Parameters.Count > 0) return true;
        return false;
    }

    private sealed record Bucket(int FirstLayer, int LastLayer, int Offset, int Length, Parameter<T>[] Parameters);
}
