function [failed, identifier, message] = invoke_callback_(callback, report)
% INVOKE_CALLBACK_  Internal to hessfree_mex: calls a progress callback and
% returns an error it raises as values instead of letting it propagate.
%
% Octave's mexCallMATLABWithTrap reports that a call failed but not why, so
% the gateway calls user code through this function to keep the user's
% identifier and message. Not part of the public interface.
  failed = false;
  identifier = '';
  message = '';
  try
    callback(report);
  catch err
    failed = true;
    identifier = err.identifier;
    message = err.message;
  end
end
