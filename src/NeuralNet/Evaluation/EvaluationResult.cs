namespace NeuralNet.Evaluation;

/// <summary>The figures of a model on a labelled data set.</summary>
/// <param name="Loss">The mean loss over the examples (NaN when no loss was given).</param>
/// <param name="Accuracy">The fraction of examples whose arg-max output equals the label.</param>
/// <param name="ConfusionMatrix">The confusion matrix (rows: true class, columns: predicted class).</param>
public sealed record EvaluationResult(double Loss, double Accuracy, ConfusionMatrix ConfusionMatrix);
