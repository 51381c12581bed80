export * from './image-augmentations';
export * from './semi-supervised-student';
