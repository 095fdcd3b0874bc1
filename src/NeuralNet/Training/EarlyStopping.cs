using System.Numerics;

namespace NeuralNet.Training;

/// <summary>
/// Stops training when the monitored figure has not improved for <see cref="Patience"/> epochs and, by default, puts the
/// weights of the best epoch back into the model at the end of the <c>Fit</c> call.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Improvement: a loss must fall below best − <see cref="MinDelta"/>; an accuracy must rise above best + <see cref="MinDelta"/>.
/// <see cref="TrainingMetric.Auto"/> monitors the validation loss when validation data exist, else the training loss.</para>
/// <para>With <see cref="RestoreBestWeights"/>, the best epoch's parameters are copied into a preallocated snapshot whenever it
/// improves and copied back in <see cref="OnTrainEnd"/> (whether training stopped early or ran all its epochs), so after
/// <c>Fit</c> the model holds the best weights. Momentum buffers are not restored.</para>
/// <para>The counters reset at the start of every <c>Fit</c> call. Its state is not part of checkpoints.</para>
/// </remarks>
public sealed class EarlyStopping<T> : TrainingCallback<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private ParameterSnapshot<T>? _best;
    private int _wait;

    /// <summary>Creates the callback.</summary>
    /// <param name="monitor">The figure to watch.</param>
    /// <param name="patience">Epochs without improvement before stopping, at least 1.</param>
    /// <param name="minDelta">The smallest change that counts as an improvement, non-negative.</param>
    /// <param name="restoreBestWeights">Put the best epoch's weights back at the end of training.</param>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public EarlyStopping(TrainingMetric monitor = TrainingMetric.Auto, int patience = 3, double minDelta = 0, bool restoreBestWeights = true)
    {
        if (patience < 1) throw new ArgumentException($"EarlyStopping: patience must be at least 1, got {patience}.", nameof(patience));
        if (!double.IsFinite(minDelta) || minDelta < 0) throw new ArgumentException($"EarlyStopping: minDelta must be finite and non-negative, got {minDelta}.", nameof(minDelta));
        Monitor = monitor;
        Patience = patience;
        MinDelta = minDelta;
        RestoreBestWeights = restoreBestWeights;
    }

    /// <summary>The watched figure.</summary>
    public TrainingMetric Monitor { get; }

    /// <summary>Epochs without improvement before stopping.</summary>
    public int Patience { get; }

    /// <summary>The smallest change that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Whether the best weights are restored at the end.</summary>
    public bool RestoreBestWeights { get; }

    /// <summary>The best value seen in the current or last <c>Fit</c> call (NaN before the first epoch).</summary>
    public double BestValue { get; private set; } = double.NaN;

    /// <summary>The epoch of <see cref="BestValue"/>, or 0.</summary>
    public int BestEpoch { get; private set; }

    /// <summary>The epoch at which this callback stopped training, or 0 when it did not.</summary>
    public int StoppedEpoch { get; private set; }

    /// <inheritdoc/>
    public override void OnTrainBegin(Trainer<T> trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        BestValue = double.NaN;
        BestEpoch = 0;
        StoppedEpoch = 0;
        _wait = 0;
        if (RestoreBestWeights) _best ??= new ParameterSnapshot<T>(trainer.Model.Parameters);
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(Trainer<T> trainer, in EpochRecord record)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        bool hasValidation = !double.IsNaN(record.ValidationLoss) || !double.IsNaN(record.ValidationAccuracy);
        var monitor = Monitor == TrainingMetric.Auto ? (hasValidation ? TrainingMetric.ValidationLoss : TrainingMetric.TrainingLoss) : Monitor;
        double value = monitor switch
        {
            TrainingMetric.TrainingLoss => record.TrainingLoss,
            TrainingMetric.ValidationLoss => record.ValidationLoss,
            TrainingMetric.TrainingAccuracy => record.TrainingAccuracy,
            _ => record.ValidationAccuracy,
        };
        if (double.IsNaN(value))
            throw new InvalidOperationException($"EarlyStopping: the monitored {monitor} is not available at epoch {record.Epoch} (no validation data?).");
        bool higherIsBetter = monitor is TrainingMetric.TrainingAccuracy or TrainingMetric.ValidationAccuracy;
        bool improved = double.IsNaN(BestValue) || (higherIsBetter ? value > BestValue + MinDelta : value < BestValue - MinDelta);
        if (improved)
        {
            BestValue = value;
            BestEpoch = record.Epoch;
            _wait = 0;
            _best?.Capture();
            return;
        }
        if (++_wait >= Patience)
        {
            StoppedEpoch = record.Epoch;
            trainer.RequestStop();
        }
    }

    /// <inheritdoc/>
    public override void OnTrainEnd(Trainer<T> trainer)
    {
        if (RestoreBestWeights && _best is { HasValue: true } && BestEpoch != trainer.Epoch) _best.Restore();
    }
}
