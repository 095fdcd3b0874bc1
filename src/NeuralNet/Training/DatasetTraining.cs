using NeuralNet.Data;
using NeuralNet.Evaluation;

namespace NeuralNet.Training;

/// <summary>Overloads that take the data helper's <see cref="Dataset"/> (float features).</summary>
public static class DatasetTraining
{
    /// <summary>Trains on a <see cref="Dataset"/>; see <see cref="Trainer{T}.Fit"/>.</summary>
    public static History Fit(this Trainer<float> trainer, Dataset train, TrainerOptions options, Dataset? validation = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(train);
        return trainer.Fit(train.Features, train.Labels, options, validation?.Features, validation?.Labels, progress, cancellationToken);
    }

    /// <summary>Evaluates on a <see cref="Dataset"/>; see <see cref="Trainer{T}.Evaluate"/>.</summary>
    public static EvaluationResult Evaluate(this Trainer<float> trainer, Dataset data, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(data);
        return trainer.Evaluate(data.Features, data.Labels, batchSize);
    }

    /// <summary>Continues training an <see cref="MlpClassifier{T}"/> on a <see cref="Dataset"/>.</summary>
    public static History Fit(this MlpClassifier<float> classifier, Dataset train, int? epochs = null, Dataset? validation = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(train);
        return classifier.Fit(train.Features, train.Labels, epochs, validation?.Features, validation?.Labels, progress, cancellationToken);
    }

    /// <summary>Evaluates an <see cref="MlpClassifier{T}"/> on a <see cref="Dataset"/>.</summary>
    public static EvaluationResult Evaluate(this MlpClassifier<float> classifier, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(data);
        return classifier.Evaluate(data.Features, data.Labels);
    }
}
