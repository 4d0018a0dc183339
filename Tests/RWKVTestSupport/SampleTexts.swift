/// Short, varied documents.
public let sampleTexts = [
    "The cat sat on the mat and watched the birds outside.",
    "Paris is the capital and most populous city of France.",
    "Swift is a general-purpose programming language developed by Apple.",
    "The Nile is a major north-flowing river in northeastern Africa.",
    "Mount Everest is Earth's highest mountain above sea level.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "The Great Wall of China is a series of fortifications.",
    "RWKV is a recurrent neural network with transformer-level performance.",
    "Coffee is a beverage brewed from roasted coffee beans.",
    "The mitochondria is the powerhouse of the cell.",
    "Jupiter is the fifth planet from the Sun and the largest in the Solar System.",
    "Tokyo is the capital of Japan and one of the largest cities in the world.",
]

public let sampleQueries = ["What is the capital of France?", "largest planet", "How do plants make energy?"]
